/// `drift`: a sensor slowly leaving the truth, tested against peers or a reference device.
public struct DriftRule: Sendable {
    public enum Reference: Sendable, Hashable {
        /// Robust median of devices sharing these attributes, the device itself excluded.
        case peers([String])
        case device(String)
    }

    public enum Method: String, Sendable, CaseIterable {
        case cusum, ewma, pageHinkley = "page-hinkley"
    }

    public var metric: String
    public var reference: Reference
    public var method: Method
    /// Allowed mean offset, in the metric's unit.
    public var tolerance: Double
    /// Alarm level of the test statistic, in the metric's unit.
    public var threshold: Double
    public var minPeers: Int
    /// EWMA smoothing factor (0 < λ ≤ 1).
    public var lambda: Double
    /// Residuals are compared on buckets of this length, in seconds.
    public var bucket: Double
    /// Window of the ramp-onset test, in seconds; nil when off (`trend: off`). Without a `trend`
    /// key it is `defaultTrendBuckets` buckets.
    public var trend: Double?
    /// Whether `trend` is the default window (the rule has no `trend` key).
    public var trendIsDefault = false

    /// Buckets in the ramp-onset test's window when the rule does not set `trend`: 24 hourly
    /// buckets had the fewest false positives at the same delays (docs/DRIFT.md).
    public static let defaultTrendBuckets = 24.0

    static let fields: [FieldSpec] = [
        FieldSpec("metric", .name, required: true, "the metric to test"),
        FieldSpec(
            "against",
            .oneOf([.choice(["peers"]), .object([FieldSpec("device", .text, required: true, "reference device id")])]),
            "peers (default) or { device: ref-001 }"),
        FieldSpec(
            "peers", .oneOf([.name, .list(.name)]), "attributes that define the peer group (default [site, zone])"),
        FieldSpec("method", .choice(Method.allCases.map(\.rawValue)), "cusum (default), ewma or page-hinkley"),
        FieldSpec("tolerance", .number, "allowed mean offset, metric unit (default 0)"),
        FieldSpec("threshold", .number, required: true, "alarm level of the test, metric unit"),
        FieldSpec("min_peers", .integer(minimum: 2), "fewer peers than this makes the device unverifiable (default 3)"),
        FieldSpec("lambda", .number, "EWMA smoothing factor, 0 < lambda <= 1 (default 0.2)"),
        FieldSpec("bucket", .duration, "residuals are compared on buckets this long (default 1h)"),
        FieldSpec(
            "trend", .oneOf([.choice(["off"]), .duration]),
            "window of the companion ramp-onset test, 12 to 168 buckets, or off (default 24 buckets)"),
    ]

    static let placeholders = ["value", "metric", "offset", "statistic", "onset", "peers", "reference"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext) -> DriftRule? {
        guard let m = f["metric"].flatMap({ ctx.metric($0.value, "metric") }) else { return nil }
        var reference = Reference.peers(["site", "zone"])
        var peersNode: YAMLNode?
        if let e = f["peers"] {
            guard let attrs = ctx.attributes(e.value, "peers") else { return nil }
            reference = .peers(attrs)
            peersNode = e.value
        }
        if let e = f["against"] {
            if case .mapping = e.value.kind {
                guard let r = ctx.fields(e.value, [FieldSpec("device", .text, required: true, "")], in: "against"),
                    let d = r["device"].flatMap({ ctx.string($0.value, "device") })
                else { return nil }
                reference = .device(d)
                if let peersNode {
                    ctx.diagnostics.warning(
                        .ignoredSetting, "`peers` is ignored when the rule compares against a reference device",
                        at: peersNode.range)
                }
            } else if case .scalar("peers", _) = e.value.kind {
            } else {
                ctx.diagnostics.error(
                    .invalidValue, "against must be `peers` or `{ device: ID }`", at: e.value.range,
                    hint: "against: { device: ref-001 }")
                return nil
            }
        }
        var method = Method.cusum
        if let e = f["method"] {
            guard let s = ctx.choice(e.value, "method", Method.allCases.map(\.rawValue)) else { return nil }
            method = Method(rawValue: s) ?? .cusum
        }
        var tolerance = 0.0
        if let e = f["tolerance"] {
            guard let v = ctx.number(e.value, "tolerance") else { return nil }
            guard v >= 0 else {
                ctx.diagnostics.error(.invalidValue, "tolerance cannot be negative", at: e.value.range)
                return nil
            }
            tolerance = v
        }
        guard let tEntry = f["threshold"], let threshold = ctx.number(tEntry.value, "threshold") else { return nil }
        guard threshold > 0 else {
            ctx.diagnostics.error(.invalidValue, "threshold must be above zero", at: tEntry.value.range)
            return nil
        }
        var minPeers = 3
        if let e = f["min_peers"] {
            guard let v = ctx.integer(e.value, "min_peers", minimum: 2) else { return nil }
            minPeers = v
        }
        var lambda = 0.2
        if let e = f["lambda"] {
            guard let v = ctx.number(e.value, "lambda") else { return nil }
            guard v > 0, v <= 1 else {
                ctx.diagnostics.error(.invalidValue, "lambda must be in (0, 1]", at: e.value.range)
                return nil
            }
            lambda = v
            if method != .ewma {
                ctx.diagnostics.warning(
                    .ignoredSetting, "`lambda` only applies to method ewma; this rule uses \(method.rawValue)",
                    at: e.value.range)
            }
        }
        var bucket = 3600.0
        if let e = f["bucket"] {
            guard let v = ctx.duration(e.value, "bucket") else { return nil }
            bucket = v
        }
        var trend: Double? = defaultTrendBuckets * bucket
        if let e = f["trend"], case .scalar("off", _) = e.value.kind {
            trend = nil
        } else if let e = f["trend"] {
            guard let v = ctx.duration(e.value, "trend") else { return nil }
            let buckets = v / bucket
            guard buckets >= 12, buckets <= 168 else {
                ctx.diagnostics.error(
                    .invalidValue, "trend must span 12 to 168 buckets (\(JSONValue.format(buckets)) given)",
                    at: e.value.range,
                    hint: "trend: \(DurationText.format(defaultTrendBuckets * bucket)), or trend: off")
                return nil
            }
            trend = v
        }
        return DriftRule(
            metric: m.name, reference: reference, method: method, tolerance: tolerance, threshold: threshold,
            minPeers: minPeers, lambda: lambda, bucket: bucket, trend: trend, trendIsDefault: f["trend"] == nil)
    }
}
