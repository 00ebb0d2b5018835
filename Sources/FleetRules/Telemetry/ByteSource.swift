import CZlib
import Foundation

/// Reads a file (or stdin with "-") as raw chunks, inflating gzip transparently.
/// Chunks are handed out as byte arrays; the line splitter works on them without copying lines.
public final class ByteSource {
    private let handle: FileHandle
    private var gzip: GzipInflater?
    public let path: String
    /// Total bytes of the file on disk, when known: for progress reporting.
    public let size: Int64?
    public private(set) var bytesRead: Int64 = 0
    private var pendingRaw: [UInt8] = []

    public init(path: String) throws {
        self.path = path
        if path == "-" {
            handle = .standardInput
            size = nil
        } else {
            guard let h = FileHandle(forReadingAtPath: path) else {
                throw TelemetryError(path: path, message: "cannot open file")
            }
            handle = h
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            size = (attributes?[.size] as? NSNumber)?.int64Value
        }
        let first = try readChunk(Self.chunkSize)
        bytesRead += Int64(first.count)
        if first.count >= 2, first[0] == 0x1F, first[1] == 0x8B {
            gzip = try GzipInflater(path: path)
        }
        pendingRaw = first
    }

    deinit {
        if path != "-" { try? handle.close() }
    }

    /// The buffer of the chunk returned last: reused for the next read once the caller has let
    /// go of that chunk (copy-on-write keeps a chunk the caller still holds intact), so reading
    /// a large file does not map, fault in and unmap fresh memory for every megabyte.
    private var spare: [UInt8] = []

    private static let chunkSize = 1 << 20

    /// Up to `count` bytes (fewer only at the end of the input), read straight into a reused buffer.
    private func readChunk(_ count: Int) throws -> [UInt8] {
        var chunk = spare
        spare = []
        if chunk.count < count { chunk.append(contentsOf: repeatElement(0, count: count - chunk.count)) }
        let fd = handle.fileDescriptor
        var failure: Int32 = 0
        let filled = chunk.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            var done = 0
            while done < count {
                let n = Foundation.read(fd, base + done, count - done)
                if n > 0 {
                    done += n
                } else if n == 0 {
                    break
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
            return done
        }
        if failure != 0 {
            throw TelemetryError(path: path, message: "read failed: \(String(cString: strerror(failure)))")
        }
        chunk.removeLast(chunk.count - filled)
        spare = chunk
        return chunk
    }

    /// The next chunk of (decompressed) bytes; empty at the end.
    public func next() throws -> [UInt8] {
        while true {
            var raw: [UInt8]
            if !pendingRaw.isEmpty {
                raw = pendingRaw
                pendingRaw = []
            } else {
                raw = try readChunk(Self.chunkSize)
                bytesRead += Int64(raw.count)
            }
            guard let gz = gzip else { return raw }
            if raw.isEmpty {
                return try gz.finish()
            }
            let out = try gz.inflate(raw)
            if !out.isEmpty { return out }
        }
    }
}

/// A problem with a telemetry or inventory file as a whole (not with one line).
public struct TelemetryError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

/// zlib inflate for gzip streams (including concatenated members); owns the z_stream.
final class GzipInflater {
    private var stream = z_stream()
    private let path: String
    private var ended = false

    init(path: String) throws {
        self.path = path
        // 15 + 32: zlib window size with automatic gzip header detection.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TelemetryError(path: path, message: "cannot initialise gzip decompression")
        }
    }

    deinit { inflateEnd(&stream) }

    func inflate(_ input: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var input = input
        var offset = 0
        while offset < input.count {
            if ended {
                // A new gzip member follows the previous one.
                inflateReset(&stream)
                ended = false
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 18)
            let consumed: Int
            let produced: Int
            let status: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_in = inBuf.baseAddress! + offset
                    stream.avail_in = uInt(inBuf.count - offset)
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
            }
            consumed = (input.count - offset) - Int(stream.avail_in)
            produced = chunk.count - Int(stream.avail_out)
            offset += consumed
            output.append(contentsOf: chunk[0..<produced])
            if status == Z_STREAM_END {
                ended = true
            } else if status != Z_OK && status != Z_BUF_ERROR {
                throw TelemetryError(path: path, message: "corrupt gzip data (zlib status \(status))")
            } else if consumed == 0 && produced == 0 {
                break
            }
        }
        return output
    }

    func finish() throws -> [UInt8] {
        if !ended, stream.total_in > 0 {
            throw TelemetryError(path: path, message: "gzip stream ends early (truncated file)")
        }
        return []
    }
}

/// Splits chunks into lines (without the newline), numbering them from 1.
public struct LineSplitter {
    private var carry: [UInt8] = []
    public private(set) var lineNumber = 0

    public init() {}

    /// Calls `body(line, lineNumber)` for every complete line in `chunk`; an empty chunk flushes the rest.
    public mutating func feed(_ chunk: [UInt8], _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) {
        if chunk.isEmpty {
            if !carry.isEmpty {
                lineNumber += 1
                let last = carry
                carry = []
                last.withUnsafeBufferPointer { body(Self.trimCR($0), lineNumber) }
            }
            return
        }
        chunk.withUnsafeBufferPointer { buf in
            var start = 0
            var i = 0
            let n = buf.count
            let base = buf.baseAddress!
            while i < n {
                if let p = memchr(base + i, 0x0A, n - i) {
                    let nl = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
                    lineNumber += 1
                    if carry.isEmpty {
                        body(Self.trimCR(UnsafeBufferPointer(rebasing: buf[start..<nl])), lineNumber)
                    } else {
                        carry.append(contentsOf: buf[start..<nl])
                        let joined = carry
                        carry = []
                        joined.withUnsafeBufferPointer { body(Self.trimCR($0), lineNumber) }
                    }
                    start = nl + 1
                    i = start
                } else {
                    break
                }
            }
            if start < n { carry.append(contentsOf: buf[start..<n]) }
        }
    }

    static func trimCR(_ line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var b = line
        // A UTF-8 byte-order mark (spreadsheet exports) is not part of the first field.
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { b = UnsafeBufferPointer(rebasing: b[3...]) }
        if let last = b.last, last == 0x0D { return UnsafeBufferPointer(rebasing: b.dropLast()) }
        return b
    }
}
