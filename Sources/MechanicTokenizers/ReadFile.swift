import Foundation

/// The largest tokenizer file read (tokenizer.json of the largest vocabularies is tens of MB).
package let tokenizerFileLimit = 512 << 20

/// Reads a whole file, mapping failures to typed errors. The path is classified with `stat`
/// first, so a FIFO, device or directory is refused instead of blocking or reading forever.
package func readFile(_ url: URL, limit: Int = tokenizerFileLimit) throws -> Data {
    let path = url.path
    var st = stat()
    guard stat(path, &st) == 0 else {
        if errno == ENOENT { throw TokenizerError.fileNotFound(path: path) }
        throw TokenizerError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        let kind: String
        switch st.st_mode & S_IFMT {
        case S_IFDIR: kind = "a directory"
        case S_IFIFO: kind = "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: kind = "a device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "a special file"
        }
        throw TokenizerError.unreadableFile(path: path, reason: "it is \(kind), not a regular file")
    }
    guard Int(st.st_size) <= limit else {
        throw TokenizerError.unreadableFile(path: path, reason: "it has \(st.st_size) bytes, more than the \(limit) allowed")
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw TokenizerError.unreadableFile(path: path, reason: "it cannot be opened for reading")
    }
    defer { close(fd) }
    // One read(2) loop into a buffer of the file's size (plus one byte, to notice a file that grew).
    var data = Data(count: Int(st.st_size) + 1)
    var count = 0
    var failure: Int32 = 0
    data.withUnsafeMutableBytes { raw in
        guard let base = raw.baseAddress else { return }
        while count < raw.count {
            let n = read(fd, base + count, raw.count - count)
            if n > 0 { count += n; continue }
            if n < 0, errno == EINTR { continue }
            if n < 0 { failure = errno }
            return
        }
    }
    if failure != 0 { throw TokenizerError.unreadableFile(path: path, reason: "reading failed (error \(failure))") }
    if count > Int(st.st_size) {   // it grew since stat: read the rest, up to the limit
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while count <= limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw TokenizerError.unreadableFile(path: path, reason: "reading failed (error \(errno))") }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
            count += n
        }
        guard count <= limit else {
            throw TokenizerError.unreadableFile(path: path, reason: "it has more than the \(limit) bytes allowed")
        }
        return data
    }
    data.count = count
    return data
}
