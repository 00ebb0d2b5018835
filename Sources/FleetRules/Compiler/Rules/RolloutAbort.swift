/// A rollout's health gate (`rollout.abort`): when the failed share of the devices that took
/// the target reaches `failed`, with at least `minDevices` of them, one critical alert opens
/// for the campaign. A device has failed when it reported the target and then an older
/// version, or when it went silent (no version for the rule's `stale`) within `stale` of
/// taking the target.
public struct RolloutAbort: Sendable, Hashable {
    /// The failed share that aborts, a ratio in (0, 1].
    public var failed: Double
    /// Devices that must have taken the target before the share is judged.
    public var minDevices: Int

    static let fields: [FieldSpec] = [
        FieldSpec("failed", .ratio, required: true, "failed share of the devices that took the target, e.g. 10%"),
        FieldSpec(
            "min_devices", .integer(minimum: 1), "devices that must have taken the target before judging (default 1)"),
    ]

    static func decode(_ node: YAMLNode, _ ctx: inout DecodeContext) -> RolloutAbort? {
        guard let f = ctx.fields(node, fields, in: "rollout.abort"),
            let e = f["failed"], let failed = ctx.ratio(e.value, "failed")
        else { return nil }
        guard failed > 0 else {
            ctx.diagnostics.error(
                .invalidValue, "failed must be above 0%: the first device to take the target would abort the rollout",
                at: e.value.range, hint: "e.g. failed: 10%")
            return nil
        }
        var minDevices = 1
        if let m = f["min_devices"] {
            guard let v = ctx.integer(m.value, "min_devices", minimum: 1) else { return nil }
            minDevices = v
        }
        return RolloutAbort(failed: failed, minDevices: minDevices)
    }

    func planStep(stale: Double?) -> String {
        let silent = stale.map { " or go silent within \(DurationText.format($0)) of taking it" } ?? ""
        return "abort the rollout (one critical alert) when ≥ \(JSONValue.format(failed * 100))% of ≥ \(minDevices) "
            + "devices that took the target fall back\(silent)"
    }
}
