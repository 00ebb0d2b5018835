/// A small pack whose one rule's `when:` is a given condition, written as a double-quoted YAML
/// scalar so that any text stays one scalar (the locator then traces columns through escapes).
public enum ConditionPack {
    public static func source(condition: String) -> [UInt8] {
        var quoted = "\""
        for scalar in condition.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            default:
                let v = scalar.value
                // libyaml accepts only printable characters in a double-quoted scalar.
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0xFEFF || v == 0xFFFE || v == 0xFFFF {
                    let hex = String(v, radix: 16)
                    quoted += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        quoted += "\""
        let text = """
            fleetrules: 1
            pack: t
            metrics:
              battery_pct: { unit: percent, range: [0, 100], interval: 5m }
              temperature: { unit: celsius, range: [-40, 125] }
              load: { unit: ratio }
            attributes:
              modem_firmware: version
            lists:
              critical_sites: [plant-a, plant-c]
            macros:
              on_battery: power == "battery"
              cold: last(temperature) < 0
            rules:
              - alert: r
                when: \(quoted)

            """
        return Array(text.utf8)
    }
}
