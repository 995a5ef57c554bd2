#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A miniature Hugging Face hub on 127.0.0.1 (ephemeral port) for tests: HTTP/1.1 over POSIX
/// sockets, one request per connection. It serves the hub's URL scheme —
/// `/api/models/{repo}[/revision/{rev}]`, `/{repo}/resolve/{rev}/{file}` (GET and HEAD), LFS
/// files (`*.safetensors`) through a 302 to a "CDN" at `/cdn/{etag}` on `localhost` (a different
/// host name, as the real CDN is) — with `ETag`/`X-Linked-Etag`/`X-Linked-Size`/`X-Repo-Commit`,
/// `Range` requests, `X-Error-Code` 404s, gated repos answering 401/403 unless the right bearer
/// token comes, and responses cut short on demand to test resuming.
final class FakeHub: @unchecked Sendable {
    struct Repo {
        var commits: [String: [String: Data]] = [:]
        var refs: [String: String] = [:]
        var token: String?
    }

    struct Request: Sendable {
        let method: String
        let path: String
        let headers: [String: String]  // names lower-cased
        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    private let lock = NSLock()
    private var repos: [String: Repo] = [:]
    private var blobs: [String: Data] = [:]
    private var cuts: [String: Int] = [:]
    private var log: [Request] = []
    private var stopped = false
    private var honorRange = true
    private let listener: Int32
    let port: UInt16

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { lock.withLock { log } }

    init() throws {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    func stop() {
        let first: Bool = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        if first {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    // MARK: - Content

    /// Adds a repo whose `main` (and any `branches`) point at one commit holding `files`.
    @discardableResult
    func addRepo(_ id: String, files: [String: Data], commit: String = FakeHub.randomCommit(),
                 branches: [String] = ["main"], token: String? = nil) -> String {
        lock.withLock {
            var repo = repos[id] ?? Repo()
            repo.commits[commit] = files
            for b in branches { repo.refs[b] = commit }
            repo.token = token
            repos[id] = repo
            for data in files.values { blobs[FakeHub.etag(data, lfs: true)] = data }
        }
        return commit
    }

    /// The next GET of `content` sends the full Content-Length but only `bytes` bytes, then
    /// closes the connection.
    func cutShort(_ content: Data, after bytes: Int) {
        lock.withLock { cuts[FakeHub.etag(content, lfs: true)] = bytes }
    }

    /// Whether `Range` requests get 206 (true) or the whole file with 200, as some mirrors do.
    func honorRanges(_ on: Bool) {
        lock.withLock { honorRange = on }
    }

    static func randomCommit() -> String {
        (0..<40).map { _ in String("0123456789abcdef".randomElement() ?? "0") }.joined()
    }

    static func isLFS(_ file: String) -> Bool { file.hasSuffix(".safetensors") }

    /// A stable content hash: 64 hex digits for LFS files (like sha256), 40 for others (like git).
    static func etag(_ data: Data, lfs: Bool) -> String {
        var out = ""
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        while out.count < (lfs ? 64 : 40) {
            var h = seed ^ UInt64(data.count)
            data.withUnsafeBytes { raw in
                let words = raw.count / 8
                for i in 0..<words { h = (h ^ raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* 0x100_0000_01b3 }
                for i in (8 * words)..<raw.count { h = (h ^ UInt64(raw[i])) &* 0x100_0000_01b3 }
            }
            out += String(format: "%016llx", h)
            seed = seed &+ 0x9e37_79b9_7f4a_7c15
        }
        return String(out.prefix(lfs ? 64 : 40))
    }

    // MARK: - Serving

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            DispatchQueue.global().async { [self] in serve(client) }
        }
    }

    private struct Response {
        var status: Int
        var headers: [(String, String)] = []
        var body = Data()
        /// Send only this many body bytes, then close.
        var cutAfter: Int?
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        guard let request = readRequest(fd) else { return }
        lock.withLock { log.append(request) }
        let response = route(request)
        let reasons = [200: "OK", 206: "Partial Content", 302: "Found", 401: "Unauthorized", 403: "Forbidden",
                       404: "Not Found", 416: "Range Not Satisfiable"]
        var head = "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Status")\r\n"
        var headers = response.headers
        if !headers.contains(where: { $0.0 == "Content-Length" }) {
            headers.append(("Content-Length", "\(response.body.count)"))
        }
        for (k, v) in headers + [("Connection", "close")] { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        var bytes = Data(head.utf8)
        if request.method != "HEAD" {
            bytes += response.cutAfter.map { response.body.prefix($0) } ?? response.body
        }
        sendAll(fd, bytes)
        shutdown(fd, Int32(SHUT_WR))
        // Drain until the client closes, so that closing never resets data still in flight.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sink = [UInt8](repeating: 0, count: 4096)
        while recv(fd, &sink, sink.count, 0) > 0 {}
    }

    private func sendAll(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var sent = 0
            while sent < raw.count {
                #if os(Linux)
                let n = send(fd, base + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                #else
                let n = send(fd, base + sent, raw.count - sent, 0)
                #endif
                if n <= 0 { return }
                sent += n
            }
        }
    }

    private func readRequest(_ fd: Int32) -> Request? {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while buffer.count < 65536 {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
            if buffer.count >= 4, (0...(buffer.count - 4)).contains(where: { Array(buffer[$0..<($0 + 4)]) == end }) { break }
        }
        let text = String(decoding: buffer, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Request(method: String(parts[0]), path: String(parts[1]), headers: headers)
    }

    private func route(_ r: Request) -> Response {
        let path = String(r.path.split(separator: "?", maxSplits: 1).first ?? "")
        if path.hasPrefix("/api/models/") { return api(String(path.dropFirst("/api/models/".count))) }
        if path.hasPrefix("/cdn/") { return content(String(path.dropFirst(5)), r) }
        if let resolve = path.range(of: "/resolve/") {
            let repo = String(path[path.index(after: path.startIndex)..<resolve.lowerBound])
            let rest = path[resolve.upperBound...]
            guard let slash = rest.firstIndex(of: "/") else { return Response(status: 404) }
            let rev = String(rest[..<slash]).removingPercentEncoding ?? ""
            let file = String(rest[rest.index(after: slash)...]).removingPercentEncoding ?? ""
            return resolveFile(repo: repo, rev: rev, file: file, r)
        }
        return Response(status: 404)
    }

    private func commit(_ repo: Repo, _ rev: String) -> String? {
        repo.refs[rev] ?? (repo.commits[rev] != nil ? rev : nil)
    }

    private func api(_ rest: String) -> Response {
        var repoID = rest
        var rev = "main"
        if let r = rest.range(of: "/revision/") {
            repoID = String(rest[..<r.lowerBound])
            rev = String(rest[r.upperBound...]).removingPercentEncoding ?? ""
        }
        let repo: Repo? = lock.withLock { repos[repoID] }
        guard let repo else { return Response(status: 404, headers: [("X-Error-Code", "RepoNotFound")]) }
        guard let sha = commit(repo, rev), let files = repo.commits[sha] else {
            return Response(status: 404, headers: [("X-Error-Code", "RevisionNotFound")])
        }
        let siblings = files.keys.sorted().map { #"{"rfilename":"\#($0)"}"# }.joined(separator: ",")
        let json = #"{"id":"\#(repoID)","sha":"\#(sha)","private":false,"siblings":[\#(siblings)]}"#
        return Response(status: 200, headers: [("Content-Type", "application/json")], body: Data(json.utf8))
    }

    private func resolveFile(repo repoID: String, rev: String, file: String, _ r: Request) -> Response {
        let repo: Repo? = lock.withLock { repos[repoID] }
        guard let repo else { return Response(status: 404, headers: [("X-Error-Code", "RepoNotFound")]) }
        if let token = repo.token, r.header("authorization") != "Bearer \(token)" {
            return Response(status: r.header("authorization") == nil ? 401 : 403, headers: [("X-Error-Code", "GatedRepo")])
        }
        guard let sha = commit(repo, rev), let files = repo.commits[sha] else {
            return Response(status: 404, headers: [("X-Error-Code", "RevisionNotFound")])
        }
        guard let data = files[file] else {
            return Response(status: 404, headers: [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", sha)])
        }
        if FakeHub.isLFS(file) {
            let etag = FakeHub.etag(data, lfs: true)
            return Response(status: 302, headers: [
                ("Location", "http://localhost:\(port)/cdn/\(etag)"),
                ("X-Linked-Etag", "\"\(etag)\""), ("X-Linked-Size", "\(data.count)"),
                ("ETag", "\"\(FakeHub.etag(Data(etag.utf8), lfs: false))\""), ("X-Repo-Commit", sha),
                ("Content-Length", "0"),
            ])
        }
        var response = ranged(data, r)
        response.headers += [("ETag", "\"\(FakeHub.etag(data, lfs: false))\""), ("X-Repo-Commit", sha)]
        return response
    }

    private func content(_ etag: String, _ r: Request) -> Response {
        let found: (Data?, Int?) = lock.withLock {
            let cut = r.method == "GET" ? cuts.removeValue(forKey: etag) : nil
            return (blobs[etag], cut)
        }
        guard let data = found.0 else { return Response(status: 404) }
        var response = ranged(data, r)
        response.cutAfter = found.1
        response.headers.append(("ETag", "\"\(etag)\""))
        return response
    }

    /// The whole body, or the `Range: bytes=N-` suffix with 206 and `Content-Range`.
    private func ranged(_ data: Data, _ r: Request) -> Response {
        guard let range = r.header("range"), lock.withLock({ honorRange }) else {
            return Response(status: 200, headers: [("Content-Length", "\(data.count)")], body: data)
        }
        guard range.hasPrefix("bytes="), range.hasSuffix("-"), let start = Int(range.dropFirst(6).dropLast()) else {
            return Response(status: 416)
        }
        guard start < data.count else {
            return Response(status: 416, headers: [("Content-Range", "bytes */\(data.count)")])
        }
        return Response(status: 206, headers: [("Content-Range", "bytes \(start)-\(data.count - 1)/\(data.count)"),
                                               ("Content-Length", "\(data.count - start)")],
                        body: data.subdata(in: start..<data.count))
    }
}
