#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A read-only memory mapping of a whole file (`mmap`, `PROT_READ`, `MAP_PRIVATE`): pages come
/// from the page cache on demand and never count as heap. Unmapped when the last reference goes.
public final class MappedFile: @unchecked Sendable {
    public let url: URL
    public let size: Int
    public let base: UnsafeRawPointer

    public init(url: URL) throws {
        self.url = url
        // Classify before opening: opening a FIFO blocks until a writer appears.
        let kind = FileIdentity.inspect(url.path).kind
        guard kind == .regular || kind == .missing else {
            throw SafeTensorsError.cannotOpen(file: url.path, reason: "it is \(kind.phrase), not a regular file")
        }
        let fd = open(url.path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else {
            throw SafeTensorsError.cannotOpen(file: url.path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw SafeTensorsError.cannotOpen(file: url.path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SafeTensorsError.cannotOpen(file: url.path, reason: "it is \(FileIdentity.kind(st.st_mode).phrase), not a regular file")
        }
        InputFiles.record(url.path)
        size = Int(st.st_size)
        if size == 0 {
            // mmap of length 0 fails; hand out a pointer to a static zero byte instead.
            base = UnsafeRawPointer(MappedFile.emptyByte)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SafeTensorsError.cannotOpen(file: url.path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    nonisolated(unsafe) private static let emptyByte: UnsafeMutableRawPointer = {
        let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8)
        p.storeBytes(of: 0, as: UInt8.self)
        return p
    }()

    deinit {
        if size > 0 { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}

extension MappedFile {
    /// Asks the kernel to start reading a byte range (`MADV_WILLNEED`), so the disk works while
    /// the processor computes. `release` hands the pages back (`MADV_DONTNEED`): they leave this
    /// process's resident set and are read from the file again if touched later.
    public func prefetch(offset: Int, count: Int) { advise(offset: offset, count: count, MADV_WILLNEED) }

    public func release(offset: Int, count: Int) { advise(offset: offset, count: count, MADV_DONTNEED) }

    private func advise(offset: Int, count: Int, _ advice: Int32) {
        guard size > 0, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset / page) * page
        let end = min(size, ((offset + count + page - 1) / page) * page)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, advice)
    }
}
