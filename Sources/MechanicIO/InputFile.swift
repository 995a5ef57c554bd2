#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why an input file (config.json, an index, a corpus, a pairs file) cannot be read. One
/// sentence naming the file and what it was meant to be.
public enum InputFileError: Error, CustomStringConvertible, Equatable {
    case missing(path: String, what: String)
    case notRegular(path: String, what: String, kind: String)
    case tooLarge(path: String, what: String, size: Int, limit: Int)
    case unreadable(path: String, what: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(path, what):
            return "\(path) does not exist (expected \(what))"
        case let .notRegular(path, what, kind):
            return "\(path) is \(kind), not a regular file (expected \(what))"
        case let .tooLarge(path, what, size, limit):
            return "\(path) has \(size) bytes, more than the \(limit) bytes allowed for \(what)"
        case let .unreadable(path, what, reason):
            return "cannot read \(path) (\(what)): \(reason)"
        }
    }
}

/// Reads input files safely: the path is classified with `stat` before it is opened, so a FIFO,
/// a device or a directory is refused at once instead of blocking or reading forever, and the
/// size is bounded before a byte is read. Every file read is recorded in `InputFiles`.
public enum InputFile {
    /// Limits for the files Mechanic reads whole.
    public static let configLimit = 16 << 20
    public static let textLimit = 1 << 30

    /// Checks that `path` (following symlinks) is a regular file of at most `limit` bytes and
    /// returns its size.
    @discardableResult
    public static func check(_ path: String, what: String, limit: Int = Int.max) throws -> Int {
        let info = FileIdentity.inspect(path)
        switch info.kind {
        case .regular: break
        case .missing: throw InputFileError.missing(path: path, what: what)
        default: throw InputFileError.notRegular(path: path, what: what, kind: info.kind.phrase)
        }
        guard info.size <= limit else { throw InputFileError.tooLarge(path: path, what: what, size: info.size, limit: limit) }
        return info.size
    }

    /// The whole file, after `check`.
    public static func read(_ path: String, what: String, limit: Int = InputFile.configLimit) throws -> Data {
        try check(path, what: what, limit: limit)
        // O_NONBLOCK: should the path be swapped for a FIFO after the check, open does not block.
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw InputFileError.unreadable(path: path, what: what, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, FileIdentity.kind(st.st_mode) == .regular else {
            throw InputFileError.notRegular(path: path, what: what, kind: FileIdentity.kind(st.st_mode).phrase)
        }
        let size = Int(st.st_size)
        guard size <= limit else { throw InputFileError.tooLarge(path: path, what: what, size: size, limit: limit) }
        InputFiles.record(path)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        do {
            let data = try handle.read(upToCount: limit == Int.max ? Int.max : limit + 1) ?? Data()
            guard data.count <= limit else { throw InputFileError.tooLarge(path: path, what: what, size: data.count, limit: limit) }
            return data
        } catch let e as InputFileError {
            throw e
        } catch {
            throw InputFileError.unreadable(path: path, what: what, reason: OutputFile.reason(error))
        }
    }

    /// The file as UTF-8 text (invalid bytes are an error naming the file).
    public static func readText(_ path: String, what: String, limit: Int = InputFile.textLimit) throws -> String {
        let data = try read(path, what: what, limit: limit)
        guard let text = String(data: data, encoding: .utf8) else {
            throw InputFileError.unreadable(path: path, what: what, reason: "it is not UTF-8 text")
        }
        return text
    }
}
