import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads a model's files from the Hugging Face hub into the cache, the way
/// `huggingface_hub.snapshot_download` does: list the repo at a revision (one commit), then for
/// each file HEAD `resolve/<commit>/<file>` for its ETag and size, stream it into
/// `blobs/<etag>.incomplete` (resuming with `Range` when a partial file is there), rename it to
/// `blobs/<etag>`, and link it from `snapshots/<commit>/`.
struct HubDownloader {
    let settings: HubSettings
    let progress: ProgressReporter?
    var http = HTTPClient()

    /// The repo's commit at `revision` and its file names.
    struct Listing {
        let commit: String
        let files: [String]
    }

    /// Fetches what the model needs into `cache` and returns the snapshot directory.
    func fetch(revision: String, weights: Bool, cache: HubRepoCache) throws -> URL {
        let repo = cache.repo
        let listing = try list(repo: repo, revision: revision)
        let plan = try ModelFiles.select(from: listing.files, weights: weights, repo: repo, revision: revision)
        for file in plan.files {
            try ensure(file, revision: revision, commit: listing.commit, cache: cache)
        }
        let snapshot = cache.snapshot(listing.commit)
        if weights, plan.files.contains(ModelFiles.index) {
            let map = try Checkpoint.weightMap(snapshot.appendingPathComponent(ModelFiles.index))
            for shard in Set(map.values).sorted() {
                try ensure(shard, revision: revision, commit: listing.commit, cache: cache)
            }
        }
        for file in plan.absent where !cache.has(file, commit: listing.commit) {
            try cache.markAbsent(file, commit: listing.commit)
        }
        try cache.writeRef(revision, commit: listing.commit)
        return snapshot
    }

    // MARK: - Listing

    /// `GET /api/models/{repo}/revision/{revision}` → `sha` and `siblings[].rfilename`. Falls
    /// back to `/api/models/{repo}` for `main` (mirrors without the revision route) and uses it to
    /// tell a missing revision from a missing repo.
    func list(repo: String, revision: String) throws -> Listing {
        let byRevision = "\(settings.endpoint)/api/models/\(repo)/revision/\(HubDownloader.escape(revision, keepSlash: false))"
        let reply = try get(byRevision, repo: repo, file: nil)
        if (200..<300).contains(reply.status) {
            return try HubDownloader.parseListing(reply)
        }
        guard reply.status == 404, reply.header("x-error-code") == nil || reply.header("x-error-code") == "RevisionNotFound" else {
            try check(reply, repo: repo, revision: revision, file: nil)
            throw ModelResolveError.http(url: byRevision, status: reply.status, repo: repo, file: nil)
        }
        let plain = try get("\(settings.endpoint)/api/models/\(repo)", repo: repo, file: nil)
        try check(plain, repo: repo, revision: revision, file: nil)
        guard revision == "main" else { throw ModelResolveError.revisionNotFound(repo: repo, revision: revision) }
        return try HubDownloader.parseListing(plain)
    }

    static func parseListing(_ reply: HTTPReply) throws -> Listing {
        let url = reply.url.absoluteString
        guard let root = (try? JSONValue.parse(reply.body))?.objectValue else {
            throw ModelResolveError.badResponse(url: url, reason: "the model listing is not a JSON object")
        }
        guard let sha = root["sha"]?.stringValue, HubRepoCache.isCommitHash(sha) else {
            throw ModelResolveError.badResponse(url: url, reason: "no 40-digit commit hash in \"sha\"")
        }
        guard let siblings = root["siblings"]?.arrayValue else {
            throw ModelResolveError.badResponse(url: url, reason: "no \"siblings\" file list")
        }
        return Listing(commit: sha, files: siblings.compactMap { $0.objectValue?["rfilename"]?.stringValue })
    }

    // MARK: - Files

    /// Makes `snapshots/<commit>/<file>` present, downloading its blob unless the cache has it.
    func ensure(_ file: String, revision: String, commit: String, cache: HubRepoCache) throws {
        guard !cache.has(file, commit: commit) else { return }
        let repo = cache.repo
        let url = "\(settings.endpoint)/\(repo)/resolve/\(commit)/\(HubDownloader.escape(file, keepSlash: true))"
        let meta = try metadata(url, repo: repo, revision: revision, file: file)
        try cache.withLock(meta.etag) {
            let blob = cache.blob(meta.etag)
            let existing = HubDownloader.fileSize(blob)
            if existing == nil || (meta.size != nil && existing != meta.size) {
                try download(meta, to: blob, repo: repo, revision: revision, file: file, cache: cache)
            }
        }
        try cache.link(file, commit: commit, etag: meta.etag)
    }

    struct FileMetadata {
        let etag: String
        let size: Int64?
        /// Where the bytes are: the resolve URL, or the CDN URL it redirects to.
        let location: URL
    }

    /// HEAD without following redirects to another host (`get_hf_file_metadata`): the ETag and
    /// size come from `X-Linked-Etag`/`X-Linked-Size` on a redirect to the CDN, else from `ETag`
    /// and `Content-Length`. Relative redirects (a renamed repo) are followed.
    func metadata(_ urlString: String, repo: String, revision: String, file: String) throws -> FileMetadata {
        var current = urlString
        for _ in 0..<5 {
            let reply = try request(current, method: "HEAD", repo: repo, file: file, followRedirects: false)
            if (300..<400).contains(reply.status), let location = reply.header("location"), location.hasPrefix("/"),
               reply.header("x-linked-etag") == nil {
                current = HubDownloader.origin(of: current) + location
                continue
            }
            try check(reply, repo: repo, revision: revision, file: file)
            guard (200..<400).contains(reply.status) else {
                throw ModelResolveError.http(url: current, status: reply.status, repo: repo, file: file)
            }
            guard let raw = reply.header("x-linked-etag") ?? reply.header("etag") else {
                throw ModelResolveError.badResponse(url: current, reason: "no ETag header for \(file)")
            }
            let etag = HubDownloader.normalizeETag(raw)
            guard !etag.isEmpty, etag != ".", etag != "..",
                  etag.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }) else {
                throw ModelResolveError.badResponse(url: current, reason: "the ETag \(raw) of \(file) cannot name a cache file")
            }
            let size = (reply.header("x-linked-size") ?? reply.header("content-length")).flatMap { Int64($0) }
            let location = reply.header("location").flatMap { URL(string: $0, relativeTo: URL(string: current))?.absoluteURL }
            guard let target = location ?? URL(string: current) else {
                throw ModelResolveError.badResponse(url: current, reason: "unusable location for \(file)")
            }
            return FileMetadata(etag: etag, size: size, location: target)
        }
        throw ModelResolveError.badResponse(url: urlString, reason: "too many redirects")
    }

    /// Streams the file into `<blob>.incomplete`, resuming a partial one, then renames it.
    func download(_ meta: FileMetadata, to blob: URL, repo: String, revision: String, file: String, cache: HubRepoCache) throws {
        let fm = FileManager.default
        try cache.createDirectory(blob.deletingLastPathComponent())
        let incomplete = URL(fileURLWithPath: blob.path + ".incomplete")
        var offset = HubDownloader.fileSize(incomplete) ?? 0
        if let size = meta.size, offset > size {
            try? fm.removeItem(at: incomplete)
            offset = 0
        }
        // A partial file that already holds every byte (a run stopped before the rename) is done.
        let complete = meta.size.map { offset == $0 && fm.fileExists(atPath: incomplete.path) } ?? false
        if !complete {
            let label = "\(repo)/\(file)"
            var reply = try fetchBody(meta, to: incomplete, offset: offset, label: label, repo: repo, file: file)
            if reply.status == 416, offset > 0 {
                // The partial file no longer matches the remote one: start over.
                try? fm.removeItem(at: incomplete)
                reply = try fetchBody(meta, to: incomplete, offset: 0, label: label, repo: repo, file: file)
            }
            try check(reply, repo: repo, revision: revision, file: file)
            guard (200..<300).contains(reply.status) else {
                throw ModelResolveError.http(url: meta.location.absoluteString, status: reply.status, repo: repo, file: file)
            }
        }
        let got = HubDownloader.fileSize(incomplete) ?? 0
        if let expected = meta.size, got != expected {
            if got > expected { try? fm.removeItem(at: incomplete) }
            throw ModelResolveError.sizeMismatch(repo: repo, file: file, expected: expected, got: got)
        }
        do {
            if fm.fileExists(atPath: blob.path) { try fm.removeItem(at: blob) }
            try fm.moveItem(at: incomplete, to: blob)
        } catch {
            throw ModelResolveError.cache(path: blob.path, reason: "cannot move the download into place: \(OutputFile.reason(error))")
        }
    }

    private func fetchBody(_ meta: FileMetadata, to incomplete: URL, offset: Int64, label: String,
                           repo: String, file: String) throws -> HTTPReply {
        var request = makeRequest(meta.location, method: "GET")
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        let bar = TransferProgress(progress, label: label, total: meta.size, resumedFrom: offset)
        let reply: HTTPReply
        do {
            reply = try http.download(request, to: incomplete, offset: offset) { bar.update($0) }
        } catch let e as TransportError {
            throw ModelResolveError.network(url: meta.location.absoluteString, repo: repo, file: file, reason: e.reason)
        }
        if (200..<300).contains(reply.status) { bar.finish() }
        return reply
    }

    // MARK: - HTTP

    private func get(_ url: String, repo: String, file: String?) throws -> HTTPReply {
        try request(url, method: "GET", repo: repo, file: file, followRedirects: true)
    }

    private func request(_ urlString: String, method: String, repo: String, file: String?, followRedirects: Bool) throws -> HTTPReply {
        guard let url = URL(string: urlString) else {
            throw ModelResolveError.badResponse(url: urlString, reason: "not a valid URL (check HF_ENDPOINT)")
        }
        do {
            return try http.send(makeRequest(url, method: method), followRedirects: followRedirects)
        } catch let e as TransportError {
            throw ModelResolveError.network(url: urlString, repo: repo, file: file, reason: e.reason)
        }
    }

    /// A request with `huggingface_hub`'s headers: no compression (sizes must be the real ones)
    /// and the token, sent only to the hub itself, never to the CDN a file redirects to (its URLs
    /// are signed, and the token must not leak).
    private func makeRequest(_ url: URL, method: String) -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        request.setValue("mechanic/0.1; swift", forHTTPHeaderField: "User-Agent")
        if let token = settings.token, url.host == URL(string: settings.endpoint)?.host,
           url.port == URL(string: settings.endpoint)?.port {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        return request
    }

    /// Turns an error status into the error that explains it (`hf_raise_for_status`).
    private func check(_ reply: HTTPReply, repo: String, revision: String, file: String?) throws {
        guard reply.status >= 400 else { return }
        let hasToken = settings.token != nil
        switch (reply.header("x-error-code"), reply.status) {
        case ("RepoNotFound", _):
            throw ModelResolveError.repoNotFound(repo: repo, status: reply.status, hasToken: hasToken)
        case ("RevisionNotFound", _):
            throw ModelResolveError.revisionNotFound(repo: repo, revision: revision)
        case ("EntryNotFound", _):
            throw ModelResolveError.fileNotFound(repo: repo, revision: revision, file: file ?? "(listing)")
        case ("GatedRepo", _), (_, 401), (_, 403):
            throw ModelResolveError.unauthorized(repo: repo, revision: revision, file: file, status: reply.status,
                                                 hasToken: hasToken, endpoint: settings.endpoint)
        case (_, 404):
            if let file { throw ModelResolveError.fileNotFound(repo: repo, revision: revision, file: file) }
            throw ModelResolveError.repoNotFound(repo: repo, status: 404, hasToken: hasToken)
        default:
            throw ModelResolveError.http(url: reply.url.absoluteString, status: reply.status, repo: repo, file: file)
        }
    }

    // MARK: - Helpers

    /// `_normalize_etag`: drops a weak `W/` prefix and the quotes.
    static func normalizeETag(_ raw: String) -> String {
        var s = Substring(raw.trimmingCharacters(in: .whitespaces))
        if s.hasPrefix("W/") { s = s.dropFirst(2) }
        return String(s).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    /// Percent-encodes a path segment (`quote(revision, safe="")`) or a file path (`/` kept).
    static func escape(_ s: String, keepSlash: Bool) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        if keepSlash { allowed.insert("/") }
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// `scheme://host[:port]` of a URL string.
    static func origin(of url: String) -> String {
        guard let u = URL(string: url), let scheme = u.scheme, let host = u.host else { return "" }
        return "\(scheme)://\(host)" + (u.port.map { ":\($0)" } ?? "")
    }

    static func fileSize(_ url: URL) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              let size = attributes[.size] as? NSNumber else { return nil }
        return size.int64Value
    }
}
