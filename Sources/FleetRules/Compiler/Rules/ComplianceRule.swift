/// `compliance`: a version attribute against baselines, deny lists, staleness, rollouts and consistency.
public struct ComplianceRule: Sendable {
    /// A denied version set with the advisory that explains it.
    public struct Deny: Sendable {
        public var versions: VersionRange
        public var advisory: String?
        public var severity: AlertSeverity
        public var reason: String?
    }

    /// A rollout campaign: devices must report `target` by `started + deadline`.
    public struct Rollout: Sendable {
        /// Target per device type; key "*" applies to every type.
        public var target: [String: Version]
        public var started: Double
        public var deadline: Double
        /// The health gate: one campaign-level critical alert when too many devices fail.
        public var abort: RolloutAbort? = nil
    }

    public var attribute: String
    /// Baseline per device type; key "*" applies to every type without its own entry.
    public var baseline: [String: VersionRange]
    public var deny: [Deny]
    public var stale: Double?
    public var rollout: Rollout?
    public var maxVersions: Int?

    static let denyFields: [FieldSpec] = [
        FieldSpec("versions", .versionRange, required: true, "denied versions, e.g. \"2.4.2 || 1.8.1\""),
        FieldSpec("advisory", .text, "advisory id shown in the finding, e.g. FW-2026-014"),
        FieldSpec("severity", .severity, "severity of a denied version (default critical)"),
        FieldSpec("reason", .text, "why the versions are denied"),
    ]

    static let rolloutFields: [FieldSpec] = [
        FieldSpec("target", .oneOf([.version, .map(.version)]), required: true, "target version, or per device type"),
        FieldSpec("started", .timestamp, required: true, "when the rollout started (RFC 3339)"),
        FieldSpec("deadline", .duration, required: true, "how long after `started` every device must be on target"),
        FieldSpec(
            "abort", .object(RolloutAbort.fields),
            "the health gate: a critical alert for the campaign when too many devices that took the target fail"),
    ]

    static let fields: [FieldSpec] = [
        FieldSpec("attribute", .name, "the version attribute (default firmware)"),
        FieldSpec(
            "baseline", .oneOf([.versionRange, .map(.versionRange)]),
            "required range, or a range per device type"),
        FieldSpec("deny", .list(.object(denyFields)), "denied versions with advisories"),
        FieldSpec("stale", .duration, "a device that has not reported its version this long is stale"),
        FieldSpec("rollout", .object(rolloutFields), "a rollout campaign to verify"),
        FieldSpec("max_versions", .integer(minimum: 1), "more distinct versions per type and site is reported as info"),
    ]

    static let placeholders = ["version", "state", "advisory", "baseline", "target", "overdue"]

    static func decode(_ f: [String: YAMLEntry], _ ctx: inout DecodeContext, at node: YAMLNode) -> ComplianceRule? {
        var attribute = "firmware"
        if let e = f["attribute"] {
            guard let a = ctx.attribute(e.value, "attribute") else { return nil }
            attribute = a
        }
        var ok = true
        var baseline: [String: VersionRange] = [:]
        if let e = f["baseline"] {
            if case .mapping = e.value.kind {
                for entry in ctx.mapping(e.value, "baseline") ?? [] {
                    if let r = ctx.versionRange(entry.value, "baseline for \(entry.name)") {
                        baseline[entry.name] = r
                    } else {
                        ok = false
                    }
                }
            } else if let r = ctx.versionRange(e.value, "baseline") {
                baseline["*"] = r
            } else {
                ok = false
            }
        }
        var deny: [Deny] = []
        if let e = f["deny"], let items = ctx.sequence(e.value, "deny") {
            for item in items {
                guard let d = ctx.fields(item, denyFields, in: "a deny entry") else {
                    ok = false
                    continue
                }
                guard let v = d["versions"].flatMap({ ctx.versionRange($0.value, "versions") }) else {
                    ok = false
                    continue
                }
                let severity = d["severity"].flatMap { ctx.severity($0.value) } ?? .critical
                deny.append(
                    Deny(
                        versions: v, advisory: d["advisory"].flatMap { ctx.string($0.value, "advisory") },
                        severity: severity, reason: d["reason"].flatMap { ctx.string($0.value, "reason") }))
            }
        }
        var stale: Double?
        if let e = f["stale"] {
            stale = ctx.duration(e.value, "stale")
            if stale == nil { ok = false }
        }
        var rollout: Rollout?
        if let e = f["rollout"] {
            if let r = ctx.fields(e.value, rolloutFields, in: "rollout"),
                let targetNode = r["target"]?.value,
                let started = r["started"].flatMap({ ctx.timestamp($0.value, "started") }),
                let deadline = r["deadline"].flatMap({ ctx.duration($0.value, "deadline") })
            {
                var target: [String: Version] = [:]
                if case .mapping = targetNode.kind {
                    for entry in ctx.mapping(targetNode, "target") ?? [] {
                        if let v = ctx.version(entry.value, "target for \(entry.name)") {
                            target[entry.name] = v
                        } else {
                            ok = false
                        }
                    }
                } else if let v = ctx.version(targetNode, "target") {
                    target["*"] = v
                } else {
                    ok = false
                }
                rollout = Rollout(target: target, started: started, deadline: deadline)
                if let a = r["abort"] {
                    if let gate = RolloutAbort.decode(a.value, &ctx) { rollout?.abort = gate } else { ok = false }
                    if f["stale"] == nil {
                        ctx.diagnostics.warning(
                            .abortWithoutStale,
                            "without `stale`, the rollout's health gate counts only devices that fall back, not those that go silent",
                            at: a.key.range, hint: "add e.g. stale: 24h to the rule")
                    }
                }
            } else {
                ok = false
            }
        }
        var maxVersions: Int?
        if let e = f["max_versions"] {
            maxVersions = ctx.integer(e.value, "max_versions", minimum: 1)
            if maxVersions == nil { ok = false }
        }
        guard ok else { return nil }
        if f["baseline"] == nil, f["deny"] == nil, f["stale"] == nil, f["rollout"] == nil, f["max_versions"] == nil {
            ctx.diagnostics.error(
                .missingField, "a compliance rule needs at least one of baseline, deny, stale, rollout, max_versions",
                at: node.range, hint: "e.g. baseline: { temp-sensor: \">=2.4.1\" }")
            return nil
        }
        return ComplianceRule(
            attribute: attribute, baseline: baseline, deny: deny, stale: stale, rollout: rollout,
            maxVersions: maxVersions)
    }
}
