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
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw TokenizerError.unreadableFile(path: path, reason: "it cannot be opened for reading")
    }
    defer { try? handle.close() }
    do {
        let data = try handle.read(upToCount: limit + 1) ?? Data()
        guard data.count <= limit else {
            throw TokenizerError.unreadableFile(path: path, reason: "it has more than the \(limit) bytes allowed")
        }
        return data
    } catch let e as TokenizerError {
        throw e
    } catch {
        throw TokenizerError.unreadableFile(path: path, reason: "reading failed (error \((error as NSError).code))")
    }
}
