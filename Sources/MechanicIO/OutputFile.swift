#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why a path cannot be written as a command's output. Each message is one sentence naming the
/// option and the path.
public enum OutputFileError: Error, CustomStringConvertible, Equatable {
    case empty(option: String)
    case notAFile(option: String, path: String, kind: String)
    case danglingSymlink(option: String, path: String)
    case noParentDirectory(option: String, path: String, parent: String)
    case isInput(option: String, path: String, input: String)
    case writeFailed(option: String, path: String, reason: String)

    public var description: String {
        switch self {
        case let .empty(option):
            return "\(option) is empty; give the path of a file to write"
        case let .notAFile(option, path, kind):
            return "\(option) \(path) is \(kind), not a regular file; give the path of a file to write (nothing was changed)"
        case let .danglingSymlink(option, path):
            return "\(option) \(path) is a symbolic link to a missing file; give the path of a file to write (nothing was changed)"
        case let .noParentDirectory(option, path, parent):
            return "\(option) \(path): the directory \(parent) does not exist"
        case let .isInput(option, path, input):
            return input == path
                ? "\(option) \(path) is one of this command's inputs; write the output to a different file (nothing was changed)"
                : "\(option) \(path) is the same file as the input \(input); write the output to a different file (nothing was changed)"
        case let .writeFailed(option, path, reason):
            return "\(option) \(path) could not be written: \(reason)"
        }
    }
}

/// A file a command writes (`--out`, `--html`, `--write-inputs`): checked before any work is done
/// and again just before writing, then written atomically — into a temporary file in the same
/// directory, renamed over the path at the end. Nothing is ever removed first, so a refused or
/// failed write leaves the file system as it was.
///
/// Refused: an empty path, a directory, anything that is not a regular file (a device, FIFO or
/// socket) or a symlink to one, a path whose directory does not exist, and — for a command's
/// outputs — any file this process read as an input (`InputFiles`, compared by device and inode)
/// or listed in `inputs`.
public struct OutputFile: Sendable {
    public let path: String
    public let option: String
    /// Whether files this process read count as inputs that must not be replaced. On for the
    /// command line; off for library writes (a program may rewrite a model file it loaded).
    public let refusesInputs: Bool

    /// Checks `path` now (see the type's notes); `inputs` are files or directories (each regular
    /// file directly inside counts) the command reads.
    public init(_ path: String, option: String = "--out", inputs: [String] = [], refusesInputs: Bool = true) throws {
        guard !path.isEmpty else { throw OutputFileError.empty(option: option) }
        self.path = path
        self.option = option
        self.refusesInputs = refusesInputs
        for input in inputs {
            switch FileIdentity.inspect(input).kind {
            case .directory: InputFiles.record(directory: URL(fileURLWithPath: input))
            case .regular: InputFiles.record(input)
            default: break
            }
        }
        try check()
    }

    public var url: URL { URL(fileURLWithPath: path) }

    /// Re-checks the path against the file system and the recorded inputs.
    public func check() throws {
        let info = FileIdentity.inspect(path)
        switch info.kind {
        case .missing:
            if info.isSymlink { throw OutputFileError.danglingSymlink(option: option, path: path) }
            let parent = url.deletingLastPathComponent().path
            guard FileIdentity.inspect(parent).kind == .directory else {
                throw OutputFileError.noParentDirectory(option: option, path: path, parent: parent)
            }
        case .regular:
            if refusesInputs, let id = info.identity, let input = InputFiles.path(of: id) {
                throw OutputFileError.isInput(option: option, path: path, input: input)
            }
        default:
            let kind = info.isSymlink ? "a symbolic link to \(info.kind.phrase)" : info.kind.phrase
            throw OutputFileError.notAFile(option: option, path: path, kind: kind)
        }
    }

    /// Writes `data` as the whole file.
    public func write(_ data: Data) throws {
        try write { handle in try handle.write(contentsOf: data) }
    }

    /// Streams the file's contents through `body` into a temporary file beside the path, then
    /// renames it into place. On any error the temporary file is removed and the path untouched.
    public func write(_ body: (FileHandle) throws -> Void) throws {
        try check()
        let dir = url.deletingLastPathComponent().path
        var template = Array((dir + "/." + url.lastPathComponent + ".partial-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw OutputFileError.writeFailed(option: option, path: path, reason: String(cString: strerror(errno)))
        }
        let tmp = String(cString: template)
        // mkstemp makes the file 0600; give it the mode a plain create would (0666 less the umask).
        let mask = umask(0)
        umask(mask)
        fchmod(fd, 0o666 & ~mask)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            try body(handle)
            try handle.close()
            try check()   // the path may have changed while the command ran
            guard rename(tmp, path) == 0 else {
                throw OutputFileError.writeFailed(option: option, path: path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? handle.close()
            unlink(tmp)
            if let e = error as? OutputFileError { throw e }
            throw OutputFileError.writeFailed(option: option, path: path, reason: Self.reason(error))
        }
    }

    /// A short reason for a Foundation or POSIX error (never the raw error dump).
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return "the write failed (error \(ns.code))"
    }
}
