/// What the report's plots draw, carried by a plain `run` and bounded per device and per report
/// (docs/REPORT.md, "Plot series"): the forecasts of the devices that cross their threshold
/// soonest within the horizon, with their bucket history and fitted path, and each drift
/// detection's device and reference series around it.

/// One device's forecast as a plot needs it: its bucket levels since its battery started (within
/// the fit window), and the fitted trend (straight, accelerating or along the learned curve) from
/// the first bucket to past the crossing with its 95% band ahead. Levels are clamped to the
/// metric's declared range.
public struct ForecastSeries: Sendable, Equatable {
    /// One bucket of the history: its middle and the level.
    public struct Point: Sendable, Equatable {
        public var t: Double
        public var value: Double

        public init(t: Double, value: Double) {
            self.t = t
            self.value = value
        }
    }

    /// One point of the fitted path; `lower`/`upper` (the band) only ahead of the forecast's time.
    public struct TrendPoint: Sendable, Equatable {
        public var t: Double
        public var value: Double
        public var lower: Double?
        public var upper: Double?

        public init(t: Double, value: Double, lower: Double?, upper: Double?) {
            self.t = t
            self.value = value
            self.lower = lower
            self.upper = upper
        }
    }

    public var device: String
    public var rule: String
    public var metric: String
    /// The metric's declared range, when it has one.
    public var range: ClosedRange<Double>?
    public var threshold: Double
    public var at: Double
    public var level: Double
    public var crossingAt: Double
    public var low: Double?
    public var high: Double?
    public var model: RobustTrend.Model
    /// Bucket means (trimmed).
    public var history: [Point]
    public var trend: [TrendPoint]

    /// History points kept per device at most (neighbouring buckets are averaged beyond).
    public static let maxHistory = 96
    /// Fitted-path points per device: some over the history, the rest ahead.
    public static let trendPointsPast = 8
    public static let trendPointsAhead = 24
    /// Devices per forecast rule, and per report, that carry a series.
    public static let maxPerRule = 8
    public static let maxPerReport = 24

    public init(
        device: String, rule: String, metric: String, range: ClosedRange<Double>?, threshold: Double, at: Double,
        level: Double, crossingAt: Double, low: Double?, high: Double?, model: RobustTrend.Model,
        history: [Point], trend: [TrendPoint]
    ) {
        self.device = device
        self.rule = rule
        self.metric = metric
        self.range = range
        self.threshold = threshold
        self.at = at
        self.level = level
        self.crossingAt = crossingAt
        self.low = low
        self.high = high
        self.model = model
        self.history = history
        self.trend = trend
    }

    func json() -> JSONValue {
        .object([
            ("device", .string(device)), ("rule", .string(rule)), ("metric", .string(metric)),
            ("range", range.map { .array([.number($0.lowerBound), .number($0.upperBound)]) } ?? .null),
            ("threshold", .number(threshold)), ("at", PlotJSON.time(at)), ("level", PlotJSON.number(level)),
            ("crossing_at", PlotJSON.time(crossingAt)), ("low", low.map(PlotJSON.time) ?? .null),
            ("high", high.map(PlotJSON.time) ?? .null), ("model", .string(model.rawValue)),
            ("history", .array(history.map { .array([PlotJSON.time($0.t), PlotJSON.number($0.value)]) })),
            (
                "trend",
                .array(
                    trend.map {
                        .array([
                            PlotJSON.time($0.t), PlotJSON.number($0.value), $0.lower.map(PlotJSON.number) ?? .null,
                            $0.upper.map(PlotJSON.number) ?? .null,
                        ])
                    })
            ),
        ])
    }
}

/// One drift detection as a plot needs it: per bucket around the detection (up to
/// `maxBefore` buckets before it and `maxAfter` after), the device's bucket mean and its
/// reference's (the peers' median or the reference device), with the estimated onset and the
/// detection time.
public struct DriftSeries: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        /// The bucket's start.
        public var t: Double
        public var device: Double
        public var reference: Double

        public init(t: Double, device: Double, reference: Double) {
            self.t = t
            self.device = device
            self.reference = reference
        }
    }

    public var rule: String
    public var device: String
    public var metric: String
    /// "peer median" or the reference device's id.
    public var reference: String
    public var onset: Double?
    public var detectedAt: Double
    public var bucket: Double
    public var points: [Point]

    /// Buckets kept before and after the detection, and detections per drift rule with a series
    /// (one per device: its latest).
    public static let maxBefore = 48
    public static let maxAfter = 24
    public static let maxPerRule = 24

    public init(
        rule: String, device: String, metric: String, reference: String, onset: Double?, detectedAt: Double,
        bucket: Double, points: [Point]
    ) {
        self.rule = rule
        self.device = device
        self.metric = metric
        self.reference = reference
        self.onset = onset
        self.detectedAt = detectedAt
        self.bucket = bucket
        self.points = points
    }

    func json() -> JSONValue {
        .object([
            ("rule", .string(rule)), ("device", .string(device)), ("metric", .string(metric)),
            ("reference", .string(reference)), ("onset", onset.map(PlotJSON.time) ?? .null),
            ("detected_at", PlotJSON.time(detectedAt)), ("bucket_seconds", .number(bucket)),
            (
                "points",
                .array(
                    points.map {
                        .array([PlotJSON.time($0.t), PlotJSON.number($0.device), PlotJSON.number($0.reference)])
                    })
            ),
        ])
    }
}

enum PlotJSON {
    static func time(_ t: Double) -> JSONValue { .string(Timestamp.format(t.rounded())) }
    static func number(_ v: Double) -> JSONValue { .number((v * 1000).rounded() / 1000) }
}

extension Report {
    /// Reads `forecast_series` back from a saved report.
    static func decodeForecastSeries(_ r: Field) throws -> [ForecastSeries] {
        try (r.optional("forecast_series")?.items() ?? []).map { f in
            let modelText = try f.member("model").string()
            guard let model = RobustTrend.Model(rawValue: modelText) else {
                throw try f.member("model").error("unknown model '\(modelText)'")
            }
            var range: ClosedRange<Double>?
            if let bounds = try f.optional("range")?.items() {
                guard bounds.count == 2, try bounds[0].number() <= bounds[1].number() else {
                    throw try f.member("range").error("expected [low, high]")
                }
                range = try bounds[0].number()...bounds[1].number()
            }
            let history = try f.member("history").items().map { p -> ForecastSeries.Point in
                let pair = try p.items()
                guard pair.count == 2 else { throw p.error("expected [time, value]") }
                return .init(t: try pair[0].timestamp(), value: try pair[1].number())
            }
            let trend = try f.member("trend").items().map { p -> ForecastSeries.TrendPoint in
                let cells = try p.items()
                guard cells.count == 4 else { throw p.error("expected [time, value, lower, upper]") }
                return .init(
                    t: try cells[0].timestamp(), value: try cells[1].number(),
                    lower: cells[2].value == .null ? nil : try cells[2].number(),
                    upper: cells[3].value == .null ? nil : try cells[3].number())
            }
            return ForecastSeries(
                device: try f.member("device").string(), rule: try f.member("rule").string(),
                metric: try f.member("metric").string(), range: range, threshold: try f.member("threshold").number(),
                at: try f.member("at").timestamp(), level: try f.member("level").number(),
                crossingAt: try f.member("crossing_at").timestamp(), low: try f.optional("low")?.timestamp(),
                high: try f.optional("high")?.timestamp(), model: model, history: history, trend: trend)
        }
    }

    /// Reads `drift_series` back from a saved report.
    static func decodeDriftSeries(_ r: Field) throws -> [DriftSeries] {
        try (r.optional("drift_series")?.items() ?? []).map { d in
            let points = try d.member("points").items().map { p -> DriftSeries.Point in
                let cells = try p.items()
                guard cells.count == 3 else { throw p.error("expected [time, device, reference]") }
                return .init(
                    t: try cells[0].timestamp(), device: try cells[1].number(), reference: try cells[2].number())
            }
            return DriftSeries(
                rule: try d.member("rule").string(), device: try d.member("device").string(),
                metric: try d.member("metric").string(), reference: try d.member("reference").string(),
                onset: try d.optional("onset")?.timestamp(), detectedAt: try d.member("detected_at").timestamp(),
                bucket: try d.member("bucket_seconds").number(), points: points)
        }
    }
}
