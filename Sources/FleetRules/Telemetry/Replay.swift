import Foundation

/// Replays telemetry files through an engine: the `fleetrules run` job as a library call.
public struct Replay {
    public enum Format: Sendable {
        case jsonLines, csv

        /// `.csv` and `.csv.gz` are CSV; everything else (`.jsonl`, `.json`, `-`) is JSON Lines.
        public static func guess(_ path: String) -> Format {
            let p = path.hasSuffix(".gz") ? String(path.dropLast(3)) : path
            return p.hasSuffix(".csv") ? .csv : .jsonLines
        }
    }

    /// Progress: bytes read so far and the total size when known.
    public typealias Progress = (_ read: Int64, _ total: Int64?) -> Void

    /// Feeds every file to `engine`, then finishes it. Several files are merged in event time.
    public static func run(
        _ engine: inout Engine, files: [String], progress: Progress? = nil
    ) throws {
        if files.count == 1 {
            try stream(&engine, path: files[0], progress: progress)
        } else {
            try merge(&engine, files: files, progress: progress)
        }
        engine.finish()
    }

    /// Telemetry already in memory (a request body, a benchmark), decoded into the engine; the
    /// engine is not finished, so a live service can keep feeding it.
    public static func feed(
        _ engine: inout Engine, bytes: [UInt8], format: Format = .jsonLines, origin: String = "input"
    ) {
        var decoder = TelemetryDecoder()
        var mapping = FieldMapping(inventory: engine.inventory)
        var splitter = LineSplitter()
        let f: TelemetryDecoder.Format = format == .csv ? .csv : .jsonLines
        for chunk in [bytes, []] {
            splitter.feed(chunk) { line, number in
                let at = ReadingOrigin(file: origin, line: number)
                if let (reason, message) = decoder.decode(line, format: f, accept: { decoded, names in
                    engine.ingest(&decoded, fields: &mapping, names: names, origin: at)
                }) {
                    engine.rejectLine(reason, message, at)
                }
            }
        }
        mapping.update(decoder.fields, plan: engine.plan, slots: [:])
        engine.absorb(mapping, names: decoder.fields)
    }

    /// One file, decoded straight from its bytes into the engine.
    static func stream(_ engine: inout Engine, path: String, progress: Progress?) throws {
        let source = try ByteSource(path: path)
        let format: TelemetryDecoder.Format = Format.guess(path) == .csv ? .csv : .jsonLines
        var decoder = TelemetryDecoder()
        var mapping = FieldMapping(inventory: engine.inventory)
        var splitter = LineSplitter()
        var lastReport: Int64 = 0
        while true {
            let chunk = try source.next()
            splitter.feed(chunk) { line, number in
                let origin = ReadingOrigin(file: path, line: number)
                if let (reason, message) = decoder.decode(line, format: format, accept: { decoded, names in
                    engine.ingest(&decoded, fields: &mapping, names: names, origin: origin)
                }) {
                    engine.rejectLine(reason, message, origin)
                }
            }
            if let progress, source.bytesRead - lastReport > 4 << 20 || chunk.isEmpty {
                lastReport = source.bytesRead
                progress(source.bytesRead, source.size)
            }
            if chunk.isEmpty { break }
        }
        mapping.update(decoder.fields, plan: engine.plan, slots: [:])
        engine.absorb(mapping, names: decoder.fields)
    }

    /// Several files: a k-way merge on event time over per-file cursors.
    static func merge(_ engine: inout Engine, files: [String], progress: Progress?) throws {
        var cursors = try files.map { try Cursor(path: $0) }
        var heads: [(Reading, ReadingOrigin)?] = []
        for i in cursors.indices { heads.append(try cursors[i].next(&engine)) }
        var count = 0
        while true {
            var best: Int?
            for (i, h) in heads.enumerated() {
                guard let h else { continue }
                if let b = best, let hb = heads[b], hb.0.timestamp <= h.0.timestamp { continue }
                best = i
            }
            guard let i = best, let (reading, origin) = heads[i] else { break }
            engine.ingest(reading, origin: origin)
            heads[i] = try cursors[i].next(&engine)
            count += 1
            if let progress, count % 100_000 == 0 {
                progress(cursors.map(\.source.bytesRead).reduce(0, +), cursors.map { $0.source.size ?? 0 }.reduce(0, +))
            }
        }
        progress?(cursors.map(\.source.bytesRead).reduce(0, +), cursors.map { $0.source.size ?? 0 }.reduce(0, +))
    }

    /// Reads one file a record at a time into owned readings.
    struct Cursor {
        let source: ByteSource
        let format: TelemetryDecoder.Format
        var decoder = TelemetryDecoder()
        var splitter = LineSplitter()
        var buffered: [(Reading, ReadingOrigin)] = []
        var position = 0
        var done = false

        init(path: String) throws {
            source = try ByteSource(path: path)
            format = Format.guess(path) == .csv ? .csv : .jsonLines
        }

        mutating func next(_ engine: inout Engine) throws -> (Reading, ReadingOrigin)? {
            while position >= buffered.count {
                if done { return nil }
                buffered.removeAll(keepingCapacity: true)
                position = 0
                let chunk = try source.next()
                if chunk.isEmpty { done = true }
                let path = source.path
                var out: [(Reading, ReadingOrigin)] = []
                var rejected: [(RejectReason, String, ReadingOrigin)] = []
                splitter.feed(chunk) { line, number in
                    let origin = ReadingOrigin(file: path, line: number)
                    if let (reason, message) = decoder.decode(line, format: format, accept: { d, names in
                        var metrics: [String: Double] = [:]
                        var attributes: [String: String] = [:]
                        for (f, v) in d.numbers { metrics[names.count > f ? names.names[f] : ""] = v }
                        for (f, v) in d.strings { attributes[names.count > f ? names.names[f] : ""] = v }
                        out.append(
                            (
                                Reading(
                                    timestamp: d.timestamp, device: String(decoding: d.device, as: UTF8.self),
                                    gateway: d.gateway.map { String(decoding: $0, as: UTF8.self) }, metrics: metrics,
                                    attributes: attributes), origin
                            ))
                    }) {
                        rejected.append((reason, message, origin))
                    }
                }
                for (reason, message, origin) in rejected { engine.rejectLine(reason, message, origin) }
                buffered = out
            }
            defer { position += 1 }
            return buffered[position]
        }
    }
}

extension Engine {
    /// Counts a line the decoder could not use.
    mutating func rejectLine(_ reason: RejectReason, _ message: String, _ origin: ReadingOrigin?) {
        recordRejection(reason, message, origin)
    }
}
