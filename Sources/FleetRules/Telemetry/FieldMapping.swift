/// Maps the decoder's interned field ids to metric ids and attribute slots, growing as new
/// field names appear; also maps device id bytes to inventory rows without Strings.
struct FieldMapping {
    var metric: [Int] = []
    var slot: [Int] = []
    var counts: [Int] = []
    var gatewaySeen = 0
    var devices = ByteInterner()
    /// Gateway names by their bytes, and each one's index in the engine (-1 until resolved).
    var gateways = ByteInterner()
    var gatewayID: [Int32] = []

    init(inventory: Inventory) {
        devices = ByteInterner(capacity: inventory.count)
        for row in inventory.rows { _ = devices.intern(row[0]) }
    }

    mutating func update(_ names: ByteInterner, plan: EvaluationPlan, slots: [String: Int]) {
        while metric.count < names.count {
            let name = names.names[metric.count]
            metric.append(plan.metricIndex[name] ?? -1)
            slot.append(slots[name] ?? -1)
            counts.append(0)
        }
    }
}
