#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Float32 data of a file as a Swift `[Float]` whose pages *are* the file's pages: the array's
/// whole pages are replaced by a private mapping of the file (`mmap` `MAP_FIXED | MAP_PRIVATE`,
/// read-write, copy-on-write), and only the partial first and last pages are copied. The values
/// come from the page cache on demand, are never copied into anonymous memory, count in the
/// resident set only where touched, and a write (to a uniquely held array) changes a private copy
/// of the page, never the file. Freeing the array unmaps them with its allocation.
///
/// This needs the array's first element to sit at the same offset within a page as the data in
/// the file (`pagePhase`; `SafeTensorsWriter.pagePhase` lays files out so). Arrays large enough to
/// map are allocated with `allocationBytes` of capacity (virtual address space only: untouched
/// pages cost nothing), so the allocator serves them with a fresh mapping of their own, whose
/// first element always has the same page offset. Where the offsets differ (another allocator,
/// a file written elsewhere) or mapping fails, the data is read into the array instead (`pread`):
/// the values are the same either way.
public enum MappedArray {
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Data shorter than this is read, not mapped.
    public static let minimumMappedBytes = 16 * 4096

    /// Capacity of a mapped array's allocation: above the largest threshold at which glibc's
    /// malloc still serves a request from its heaps (32 MiB, and 64 MiB heaps of other arenas),
    /// so every such allocation is its own `mmap`.
    public static let allocationBytes = 64 << 20 + 4096

    /// Byte offset within a page of the first element of a freshly allocated large `[Float]`.
    public static let pagePhase: Int = {
        let a = [Float](unsafeUninitializedCapacity: allocationBytes / 4) { buf, n in
            buf[0] = 0
            n = 1
        }
        return a.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } % pageSize
    }()

    /// `count` float32 values at `byteOffset` of the open file `fd` (`path` for messages), mapped
    /// in place where possible; `mapped` tells which.
    public static func floats(fd: Int32, path: String, byteOffset: Int, count: Int) throws -> (values: [Float], mapped: Bool) {
        let bytes = count * 4
        var st = stat()
        guard fstat(fd, &st) == 0, byteOffset >= 0, byteOffset + bytes <= Int(st.st_size) else {
            throw SafeTensorsError.cannotOpen(file: path, reason: "it ends before byte \(byteOffset + bytes), where its data should end")
        }
        let mappable = bytes >= minimumMappedBytes
        var mapped = false
        let capacity = mappable ? max(count, allocationBytes / 4) : count
        let values = try [Float](unsafeUninitializedCapacity: capacity) { buf, n in
            guard let base = buf.baseAddress else { n = 0; return }
            let raw = UnsafeMutableRawPointer(base)
            let address = Int(bitPattern: raw)
            let first = (address + pageSize - 1) / pageSize * pageSize   // first whole page of the array
            let last = (address + bytes) / pageSize * pageSize           // end of its last whole page
            let fileFirst = byteOffset + (first - address)
            if mappable, last > first, fileFirst % pageSize == 0,
               let p = mmap(UnsafeMutableRawPointer(bitPattern: first), last - first, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_FIXED, fd, off_t(fileFirst)), p != MAP_FAILED {
                mapped = true
                try read(fd, path, into: raw, count: first - address, at: byteOffset)                     // head of the first page
                try read(fd, path, into: raw + (last - address), count: address + bytes - last,
                         at: byteOffset + (last - address))                                               // tail of the last page
            } else {
                try read(fd, path, into: raw, count: bytes, at: byteOffset)
            }
            n = count
        }
        return (values, mapped)
    }

    /// `count` bytes at `offset` of `fd`, with `pread`, all of them or an error.
    static func read(_ fd: Int32, _ path: String, into p: UnsafeMutableRawPointer, count: Int, at offset: Int) throws {
        var done = 0
        while done < count {
            let n = pread(fd, p + done, count - done, off_t(offset + done))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw SafeTensorsError.cannotOpen(file: path, reason: n == 0 ? "it ends at byte \(offset + done), before the data it announces"
                                                                       : String(cString: strerror(errno)))
            }
            done += n
        }
    }
}
