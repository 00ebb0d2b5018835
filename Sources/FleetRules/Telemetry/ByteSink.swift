import CZlib
import Foundation

/// A buffered file writer for generated data, optionally gzip-compressed (zlib, level 1:
/// fast enough to keep up with the simulator). Closing flushes; errors are thrown, not trapped.
public final class ByteSink {
    public private(set) var buffer: [UInt8] = []
    private let handle: FileHandle
    private var stream = z_stream()
    private let gzip: Bool
    private var closed = false
    public let path: String
    public private(set) var bytesWritten = 0

    public init(path: String, gzip: Bool) throws {
        self.path = path
        self.gzip = gzip
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path)
        else { throw TelemetryError(path: path, message: "cannot create file") }
        handle = h
        buffer.reserveCapacity(1 << 20)
        if gzip {
            // windowBits 15 + 16: write a gzip header and trailer.
            guard
                deflateInit2_(
                    &stream, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                    Int32(MemoryLayout<z_stream>.size)) == Z_OK
            else { throw TelemetryError(path: path, message: "cannot initialise gzip compression") }
        }
    }

    deinit {
        if gzip { deflateEnd(&stream) }
        try? handle.close()
    }

    @inline(__always) public func append(_ byte: UInt8) { buffer.append(byte) }

    public func append(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
    }

    public func append(_ bytes: [UInt8]) { buffer.append(contentsOf: bytes) }

    /// Appends `value` rounded to `decimals` places, trailing zeros dropped (JSON-friendly).
    public func append(fixed value: Double, decimals: Int) {
        guard value.isFinite else {
            append("null")
            return
        }
        Self.appendFixed(&buffer, value, decimals)
    }

    /// `value` rounded to `decimals` places without trailing zeros, as ASCII digits.
    public static func appendFixed(_ out: inout [UInt8], _ value: Double, _ decimals: Int) {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        var scaled = Int((abs(value) * Double(scale)).rounded())
        if value < 0, scaled != 0 { out.append(0x2D) }
        var whole = scaled / scale
        scaled %= scale
        var digits: [UInt8] = []
        repeat {
            digits.append(UInt8(0x30 + whole % 10))
            whole /= 10
        } while whole > 0
        out.append(contentsOf: digits.reversed())
        guard scaled != 0 else { return }
        out.append(0x2E)
        var div = scale / 10
        while div > 0, scaled != 0 {
            out.append(UInt8(0x30 + scaled / div))
            scaled %= div
            div /= 10
        }
    }

    /// Writes the buffer out once it is large enough.
    public func flushIfNeeded() throws {
        if buffer.count >= 1 << 20 { try flush(final: false) }
    }

    public func flush(final: Bool) throws {
        if gzip {
            var out = [UInt8](repeating: 0, count: 1 << 18)
            var input = buffer
            let total = input.count
            try input.withUnsafeMutableBufferPointer { inBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = uInt(total)
                repeat {
                    let produced: Int = out.withUnsafeMutableBufferPointer { outBuf in
                        stream.next_out = outBuf.baseAddress
                        stream.avail_out = uInt(outBuf.count)
                        _ = deflate(&stream, final ? Z_FINISH : Z_NO_FLUSH)
                        return outBuf.count - Int(stream.avail_out)
                    }
                    if produced > 0 {
                        try handle.write(contentsOf: out[0..<produced])
                        bytesWritten += produced
                    }
                } while stream.avail_out == 0 || (final && stream.avail_in > 0)
            }
        } else if !buffer.isEmpty {
            try handle.write(contentsOf: buffer)
            bytesWritten += buffer.count
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        guard !closed else { return }
        closed = true
        try flush(final: true)
        try handle.close()
    }
}
