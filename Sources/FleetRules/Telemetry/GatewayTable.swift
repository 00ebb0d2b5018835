import Foundation

/// The optional gateways CSV of `balance` rules: `gateway,site,capacity` with a header row.
/// `site` places a gateway in its site's group even before any device is seen through it;
/// `capacity` (blank: no limit) is the most devices the rebalancing plan may leave on it.
public struct GatewayTable: Sendable {
    public struct Entry: Sendable, Equatable {
        public var gateway: String
        public var site: String
        public var capacity: Int?
    }

    /// Entries in file order; a gateway listed twice keeps its first row (the second is rejected).
    public private(set) var entries: [Entry] = []
    public private(set) var index: [String: Int] = [:]
    /// Rows that could not be used, with their line numbers and reasons.
    public private(set) var rejected: [(line: Int, reason: String)] = []

    public init() {}

    public subscript(gateway: String) -> Entry? { index[gateway].map { entries[$0] } }

    /// Parses the CSV text; `path` names the file in errors.
    public static func parse(_ text: String, path: String) throws(TelemetryError) -> GatewayTable {
        var table = GatewayTable()
        var columns: (gateway: Int, site: Int?, capacity: Int?)?
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty || line.hasPrefix("#") { continue }
            let bytes = Array(line.utf8)
            guard let fields = bytes.withUnsafeBufferPointer({ CSVRecord.fields($0) }) else {
                table.rejected.append((number, "unterminated quote"))
                continue
            }
            guard let c = columns else {
                let names = fields.map { $0.lowercased().trimmingCharacters(in: .whitespaces) }
                guard let g = names.firstIndex(of: "gateway") else {
                    throw TelemetryError(path: path, message: "line \(number): the header has no `gateway` column")
                }
                columns = (g, names.firstIndex(of: "site"), names.firstIndex(of: "capacity"))
                continue
            }
            let width = max(c.gateway, c.site ?? 0, c.capacity ?? 0) + 1
            guard fields.count >= width else {
                table.rejected.append((number, "expected at least \(width) fields, found \(fields.count)"))
                continue
            }
            let gateway = fields[c.gateway].trimmingCharacters(in: .whitespaces)
            guard !gateway.isEmpty else {
                table.rejected.append((number, "empty gateway id"))
                continue
            }
            guard table.index[gateway] == nil else {
                table.rejected.append((number, "gateway '\(gateway)' listed twice"))
                continue
            }
            var capacity: Int?
            if let k = c.capacity {
                let text = fields[k].trimmingCharacters(in: .whitespaces)
                if !text.isEmpty {
                    guard let v = Int(text), v >= 0 else {
                        table.rejected.append((number, "capacity '\(text)' is not a whole number ≥ 0"))
                        continue
                    }
                    capacity = v
                }
            }
            let site = c.site.map { fields[$0].trimmingCharacters(in: .whitespaces) } ?? ""
            table.index[gateway] = table.entries.count
            table.entries.append(Entry(gateway: gateway, site: site, capacity: capacity))
        }
        guard columns != nil else {
            throw TelemetryError(path: path, message: "the file is empty; expected a header row")
        }
        return table
    }

    /// Reads a gateways CSV file; bad rows are counted in `rejected`, not fatal.
    public static func load(path: String) throws -> GatewayTable {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TelemetryError(path: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }
}
