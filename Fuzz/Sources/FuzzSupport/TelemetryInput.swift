import FleetRules

/// How the telemetry target reads its input.
public enum TelemetryInput {
    /// JSON Lines when the first non-blank byte is `{`, CSV otherwise.
    public static func format(of bytes: [UInt8]) -> Replay.Format {
        let first = bytes.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A) }
        return first == 0x7B ? .jsonLines : .csv
    }

    /// Lines the decoder turns into a record or a rejection (not blank lines, not a CSV header):
    /// each must end up an ingested reading or a counted rejection.
    public static func records(in bytes: [UInt8], format: Replay.Format) -> Int {
        var decoder = TelemetryDecoder()
        var splitter = LineSplitter()
        var count = 0
        let each: (UnsafeBufferPointer<UInt8>, Int) -> Void = { line, _ in
            var accepted = false
            let rejected = decoder.decode(line, format: format) { _, _ in accepted = true } != nil
            if accepted || rejected { count += 1 }
        }
        splitter.feed(bytes, each)
        splitter.feed([], each)
        return count
    }
}
