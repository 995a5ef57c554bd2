#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What a path names on disk, found with `lstat` and `stat` (never by opening it, so a FIFO or a
/// device is classified without blocking or reading).
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    /// The kind of thing at a path, after following symbolic links.
    public enum Kind: Equatable, Sendable {
        case missing, regular, directory, fifo, socket, characterDevice, blockDevice, other

        /// "a directory", "a FIFO (named pipe)", … for messages.
        public var phrase: String {
            switch self {
            case .missing: return "missing"
            case .regular: return "a regular file"
            case .directory: return "a directory"
            case .fifo: return "a FIFO (named pipe)"
            case .socket: return "a socket"
            case .characterDevice: return "a character device"
            case .blockDevice: return "a block device"
            case .other: return "not a regular file"
            }
        }
    }

    /// The kind at `path` following symlinks, whether `path` itself is a symlink, and the
    /// identity of what it names (nil when missing).
    public static func inspect(_ path: String) -> (kind: Kind, isSymlink: Bool, identity: FileIdentity?, size: Int) {
        var l = stat()
        guard lstat(path, &l) == 0 else { return (.missing, false, nil, 0) }
        let isLink = (l.st_mode & S_IFMT) == S_IFLNK
        var s = stat()
        guard stat(path, &s) == 0 else { return (.missing, isLink, nil, 0) }
        return (kind(s.st_mode), isLink, FileIdentity(device: UInt64(s.st_dev), inode: UInt64(s.st_ino)), Int(s.st_size))
    }

    static func kind(_ mode: mode_t) -> Kind {
        switch mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        case S_IFIFO: return .fifo
        case S_IFSOCK: return .socket
        case S_IFCHR: return .characterDevice
        case S_IFBLK: return .blockDevice
        default: return .other
        }
    }
}

/// The files this process has read as inputs (model files, shards, config, corpus, pairs), by
/// device and inode, so that no output ever replaces one of them — however the path is spelled
/// (relative, through a symlink, a hard link).
public enum InputFiles {
    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var seen: [FileIdentity: String] = [:]
    }
    private static let registry = Registry()

    /// Records `path` (following symlinks) as an input; missing paths are ignored.
    public static func record(_ path: String) {
        let info = FileIdentity.inspect(path)
        guard let id = info.identity else { return }
        registry.lock.lock()
        defer { registry.lock.unlock() }
        if let known = registry.seen[id], FileIdentity.inspect(known).identity == id { return }
        registry.seen[id] = path
    }

    /// Records every regular file directly inside `directory` (a model directory: weights,
    /// config, tokenizer files).
    public static func record(directory: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names {
            let path = directory.appendingPathComponent(name).path
            if FileIdentity.inspect(path).kind == .regular { record(path) }
        }
    }

    /// The input path recorded under `identity`, if any. An entry whose path no longer names that
    /// file (deleted, its inode reused by a new file) is dropped.
    public static func path(of identity: FileIdentity) -> String? {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        guard let path = registry.seen[identity] else { return nil }
        guard FileIdentity.inspect(path).identity == identity else {
            registry.seen[identity] = nil
            return nil
        }
        return path
    }
}
