/// The fleet's devices and their attributes, read from a CSV with a header row:
/// `device,type,site,zone,gateway,reachable,firmware,criticality,power` plus any extra columns.
public struct Inventory: Sendable {
    /// Column names in file order; `device` is always first here.
    public private(set) var columns: [String]
    /// Attribute values per device, in `columns` order (empty string when blank).
    public private(set) var rows: [[String]]
    /// The row of each device id.
    public private(set) var deviceIndex: [String: Int]
    /// Rows that could not be used, with their line numbers and reasons.
    public private(set) var rejected: [(line: Int, reason: String)]
    /// Gateways and their capacities from the optional gateways CSV (`balance` rules).
    public var gateways = GatewayTable()

    /// The number of devices.
    public var count: Int { rows.count }

    /// An inventory without devices.
    public init() {
        columns = ["device"]
        rows = []
        deviceIndex = [:]
        rejected = []
    }

    /// Builds an inventory from records; the first column must be `device`.
    public init(columns: [String], rows: [[String]]) throws(TelemetryError) {
        self.init()
        guard let deviceColumn = columns.firstIndex(of: "device") else {
            throw TelemetryError(path: "inventory", message: "the header has no `device` column")
        }
        self.columns =
            [columns[deviceColumn]] + columns.enumerated().filter { $0.offset != deviceColumn }.map(\.element)
        for (i, row) in rows.enumerated() { add(row, deviceColumn: deviceColumn, line: i + 2) }
    }

    /// Reads an inventory CSV file; bad rows are counted in `rejected`, not fatal.
    public static func load(path: String) throws -> Inventory {
        let source = try ByteSource(path: path)
        var splitter = LineSplitter()
        var header: [String]?
        var inventory = Inventory()
        var deviceColumn = 0
        var failure: TelemetryError?
        func handle(_ line: UnsafeBufferPointer<UInt8>, _ number: Int) {
            if failure != nil || line.isEmpty || line.first == 0x23 { return }
            guard let fields = CSVRecord.fields(line) else {
                inventory.rejected.append((number, "unterminated quote"))
                return
            }
            guard header != nil else {
                let names = fields.map { $0.lowercased() }
                guard let d = names.firstIndex(of: "device") else {
                    failure = TelemetryError(path: path, message: "line \(number): the header has no `device` column")
                    return
                }
                if let dup = names.enumerated().first(where: { i, name in names[..<i].contains(name) })?.element {
                    failure = TelemetryError(path: path, message: "line \(number): column '\(dup)' appears twice")
                    return
                }
                deviceColumn = d
                header = names
                inventory.columns = [names[d]] + names.enumerated().filter { $0.offset != d }.map(\.element)
                return
            }
            inventory.add(fields, deviceColumn: deviceColumn, line: number)
        }
        while true {
            let chunk = try source.next()
            splitter.feed(chunk, handle)
            if chunk.isEmpty { break }
        }
        if let failure { throw failure }
        if header == nil { throw TelemetryError(path: path, message: "the file is empty; expected a header row") }
        return inventory
    }

    private mutating func add(_ fields: [String], deviceColumn: Int, line: Int) {
        guard fields.count == columns.count else {
            rejected.append((line, "expected \(columns.count) fields, found \(fields.count)"))
            return
        }
        let device = fields[deviceColumn]
        guard !device.isEmpty else {
            rejected.append((line, "empty device id"))
            return
        }
        guard deviceIndex[device] == nil else {
            rejected.append((line, "device '\(device)' is listed twice"))
            return
        }
        let row = [device] + fields.enumerated().filter { $0.offset != deviceColumn }.map(\.element)
        deviceIndex[device] = rows.count
        rows.append(row)
    }

    /// The value of `column` for device row `index`, or nil when the column does not exist.
    public func value(_ column: String, device index: Int) -> String? {
        guard let c = columns.firstIndex(of: column), index < rows.count else { return nil }
        return rows[index][c]
    }

    /// The index of a column in `columns`, if there is one of that name.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }
}
