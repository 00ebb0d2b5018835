import Foundation

/// Replays telemetry files through an engine: the `fleetrules run` job as a library call. The
/// telemetry decoder turns bytes into lines of interned field ids; this driver maps their
/// fields to the plan's metrics and attribute slots (`FieldMapping`) and hands the engine
/// readings by id.
public struct Replay {
    /// JSON Lines or CSV; `.csv`/`.csv.gz` files are CSV, everything else (`.jsonl`, `-`) JSON Lines.
    public typealias Format = TelemetryDecoder.Format

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
        var lines = LineIngest(engine: engine, format: format, file: origin)
        lines.feed(bytes, into: &engine)
        lines.finish(into: &engine)
    }

    /// One file, decoded straight from its bytes into the engine.
    static func stream(_ engine: inout Engine, path: String, progress: Progress?) throws {
        let source = try ByteSource(path: path)
        var lines = LineIngest(engine: engine, format: Format.guess(path), file: path)
        var lastReport: Int64 = 0
        while true {
            let chunk = try source.next()
            if chunk.isEmpty {
                lines.finish(into: &engine)
                progress?(source.bytesRead, source.size)
                return
            }
            lines.feed(chunk, into: &engine)
            if let progress, source.bytesRead - lastReport > 4 << 20 {
                lastReport = source.bytesRead
                progress(source.bytesRead, source.size)
            }
        }
    }

    /// Splits chunks into lines and decodes each straight into the engine (the fast path:
    /// field ids map to metrics without a String per key); rejected lines are counted.
    struct LineIngest {
        let format: Format
        let file: String
        var decoder = TelemetryDecoder()
        var mapping: FieldMapping
        var splitter = LineSplitter()
        /// Scratch for one line's (metric, value) pairs.
        var values: [(Int, Double)] = []

        init(engine: Engine, format: Format, file: String) {
            self.format = format
            self.file = file
            mapping = FieldMapping(inventory: engine.inventory)
        }

        mutating func feed(_ chunk: [UInt8], into engine: inout Engine) {
            guard !chunk.isEmpty else { return }
            split(chunk, &engine)
        }

        /// Decodes the last line (one without a newline) and hands the field counts to the engine.
        mutating func finish(into engine: inout Engine) {
            split([], &engine)
            mapping.update(decoder.fields, plan: engine.plan, slots: [:])
            engine.absorb(mapping, names: decoder.fields)
        }

        /// The splitter is taken out while it calls back, so the callback may use the rest of `self`.
        private mutating func split(_ chunk: [UInt8], _ engine: inout Engine) {
            var lines = splitter
            lines.feed(chunk) { line, number in
                let origin = ReadingOrigin(file: file, line: number)
                if let (reason, message) = decoder.decode(
                    line, format: format,
                    accept: { decoded, names in
                        Self.map(
                            &decoded, names: names, mapping: &mapping, values: &values, origin: origin, into: &engine)
                    })
                {
                    engine.rejectLine(reason, message, origin)
                }
            }
            splitter = lines
        }
    }

    /// Several files: a k-way merge on event time over per-file cursors. Readings after `until`
    /// are read (their files are merged to the end) but not ingested.
    static func merge(_ engine: inout Engine, files: [String], until: Double = .infinity, progress: Progress?) throws {
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
            if reading.timestamp <= until { engine.ingest(reading, origin: origin) }
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
        let format: Format
        var decoder = TelemetryDecoder()
        var splitter = LineSplitter()
        var buffered: [(Reading, ReadingOrigin)] = []
        var position = 0
        var done = false

        init(path: String) throws {
            source = try ByteSource(path: path)
            format = Format.guess(path)
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
                    if let (reason, message) = decoder.decode(
                        line, format: format,
                        accept: { d, names in
                            var metrics: [String: Double] = [:]
                            var attributes: [String: String] = [:]
                            for (f, v) in d.numbers { metrics[names.count > f ? names.names[f] : ""] = v }
                            for (f, v) in d.strings { attributes[names.count > f ? names.names[f] : ""] = v }
                            out.append(
                                (
                                    Reading(
                                        timestamp: d.timestamp, device: String(decoding: d.device, as: UTF8.self),
                                        gateway: d.gateway.map { String(decoding: $0, as: UTF8.self) },
                                        metrics: metrics,
                                        attributes: attributes), origin
                                ))
                        })
                    {
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

extension Replay.LineIngest {
    /// One line, decoded into the engine (rejections are counted by the engine).
    mutating func one(_ line: UnsafeBufferPointer<UInt8>, number: Int, into engine: inout Engine) {
        let origin = ReadingOrigin(file: file, line: number)
        if let (reason, message) = decoder.decode(
            line, format: format,
            accept: { decoded, names in
                Self.map(&decoded, names: names, mapping: &mapping, values: &values, origin: origin, into: &engine)
            })
        {
            engine.rejectLine(reason, message, origin)
        }
    }
}

extension Replay.LineIngest {
    /// Maps a decoded line's field ids to metric ids and attribute slots (no String per key) and
    /// hands the reading to the engine; the field names count for `check --data` even when the
    /// device is unknown.
    static func map(
        _ line: inout DecodedLine, names: ByteInterner, mapping fields: inout FieldMapping,
        values: inout [(Int, Double)],
        origin: ReadingOrigin?, into engine: inout Engine
    ) {
        if fields.metric.count < names.count {
            fields.update(names, plan: engine.plan, slots: engine.program.attributeSlots)
        }
        if line.gateway != nil { fields.gatewaySeen += 1 }
        guard let d = fields.devices.find(line.device) else {
            for (f, _) in line.numbers { fields.counts[f] += 1 }
            for (f, _) in line.strings { fields.counts[f] += 1 }
            engine.rejectLine(
                .unknownDevice, "device '\(String(decoding: line.device, as: UTF8.self))' is not in the inventory",
                origin)
            return
        }
        values.removeAll(keepingCapacity: true)
        for (f, v) in line.numbers {
            fields.counts[f] += 1
            let m = fields.metric[f]
            if m >= 0 { values.append((m, v)) }
        }
        var nonNumeric: String?
        var strings: [(Int, String)] = []
        for (f, v) in line.strings {
            fields.counts[f] += 1
            if fields.metric[f] >= 0 {
                nonNumeric = "metric '\(names.names[f])' has the non-numeric value '\(v)'"
                continue
            }
            let s = fields.slot[f]
            if s >= 0 { strings.append((s, v)) }
        }
        var gateway: Int32 = -1
        if let bytes = line.gateway {
            // Gateway names are interned by their bytes: no String per reading.
            let local = fields.gateways.intern(bytes)
            while fields.gatewayID.count <= local { fields.gatewayID.append(-1) }
            if fields.gatewayID[local] < 0 {
                fields.gatewayID[local] = engine.gatewayIndex(fields.gateways.names[local])
            }
            gateway = fields.gatewayID[local]
        }
        engine.ingest(
            time: line.timestamp, device: d, gateway: gateway, values: &values, strings: strings,
            nonNumeric: nonNumeric,
            origin: origin)
    }
}

extension TelemetryBody {
    /// Decodes JSON Lines into `engine` like `fleetrules run` does; with `keepAccepted` the
    /// summary holds the accepted lines, for replay after a reload or a restart.
    public static func ingest(
        _ engine: inout Engine, bytes: [UInt8], lineNumbers: [Int]? = nil, origin: String = "request",
        keepAccepted: Bool = false
    ) -> Summary {
        var summary = Summary()
        var lines = Replay.LineIngest(engine: engine, format: .jsonLines, file: origin)
        let readingsBefore = engine.stats.readings
        var splitter = LineSplitter()
        let each: (UnsafeBufferPointer<UInt8>, Int, inout Engine) -> Void = { line, number, engine in
            let mapped = lineNumbers.flatMap { number - 1 < $0.count ? $0[number - 1] : nil } ?? number
            let before = engine.stats.rejections
            let blank = line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            if blank { return }
            summary.lines += 1
            lines.one(line, number: mapped, into: &engine)
            if engine.stats.rejections != before, let r = engine.stats.lastRejection {
                summary.rejected[r.reason, default: 0] += 1
                if summary.rejections.count < Summary.rejectionsListed {
                    summary.rejections.append(Summary.Rejection(line: mapped, reason: r.reason, message: r.message))
                }
            } else if keepAccepted {
                summary.acceptedLines.append(contentsOf: line)
                summary.acceptedLines.append(0x0A)
            }
        }
        splitter.feed(bytes) { line, number in each(line, number, &engine) }
        splitter.feed([]) { line, number in each(line, number, &engine) }
        lines.finish(into: &engine)
        summary.accepted = engine.stats.readings - readingsBefore
        return summary
    }
}
