/// Numbers in summaries, plan steps and tables: at most two decimals, no trailing zeros.
enum NumberText {
    static func format(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return JSONValue.format(r)
    }
}
