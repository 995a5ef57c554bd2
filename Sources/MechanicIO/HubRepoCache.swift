#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One model repo's folder in the Hugging Face cache, laid out exactly as `huggingface_hub`
/// does, so Python tools and Mechanic share downloads:
///
///     <cache>/models--ORG--NAME/
///         blobs/<etag>                  file contents, named by the hub's ETag
///         snapshots/<commit>/<file>     symlinks to ../../blobs/<etag>
///         refs/<revision>               the commit a branch or tag pointed to when last fetched
///         .no_exist/<commit>/<file>     empty markers: the repo has no such file at that commit
///     <cache>/.locks/models--ORG--NAME/<etag>.lock   held while a blob is written
struct HubRepoCache {
    let repo: String
    let cacheDirectory: URL
    let folder: URL

    init(repo: String, cacheDirectory: URL) {
        self.repo = repo
        self.cacheDirectory = cacheDirectory
        folder = cacheDirectory.appendingPathComponent(HubRepoCache.folderName(repo), isDirectory: true)
    }

    /// `models--` + the repo id with `/` replaced by `--` (`repo_folder_name`).
    static func folderName(_ repo: String) -> String {
        "models--" + repo.split(separator: "/", omittingEmptySubsequences: false).joined(separator: "--")
    }

    /// A full 40-hex-digit commit hash (`REGEX_COMMIT_HASH`).
    static func isCommitHash(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The commit a revision names: itself when it is a hash, else what `refs/<revision>` holds.
    func commit(for revision: String) -> String? {
        if HubRepoCache.isCommitHash(revision) { return revision }
        let ref = folder.appendingPathComponent("refs").appendingPathComponent(revision)
        guard let text = try? String(contentsOf: ref, encoding: .utf8) else { return nil }
        let hash = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return HubRepoCache.isCommitHash(hash) ? hash : nil
    }

    func snapshot(_ commit: String) -> URL {
        folder.appendingPathComponent("snapshots").appendingPathComponent(commit, isDirectory: true)
    }

    func blob(_ etag: String) -> URL {
        folder.appendingPathComponent("blobs").appendingPathComponent(etag)
    }

    /// Whether `file` is in the snapshot and its symlink resolves.
    func has(_ file: String, commit: String) -> Bool {
        FileManager.default.fileExists(atPath: snapshot(commit).appendingPathComponent(file).path)
    }

    func isMarkedAbsent(_ file: String, commit: String) -> Bool {
        FileManager.default.fileExists(atPath: noExist(file, commit: commit).path)
    }

    func markAbsent(_ file: String, commit: String) throws {
        let url = noExist(file, commit: commit)
        try createDirectory(url.deletingLastPathComponent())
        guard FileManager.default.createFile(atPath: url.path, contents: Data()) else {
            throw ModelResolveError.cache(path: url.path, reason: "cannot create the .no_exist marker")
        }
    }

    private func noExist(_ file: String, commit: String) -> URL {
        folder.appendingPathComponent(".no_exist").appendingPathComponent(commit).appendingPathComponent(file)
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative symlink.
    func link(_ file: String, commit: String, etag: String) throws {
        let link = snapshot(commit).appendingPathComponent(file)
        try createDirectory(link.deletingLastPathComponent())
        let depth = file.split(separator: "/").count - 1
        let target = String(repeating: "../", count: 2 + depth) + "blobs/" + etag
        let fm = FileManager.default
        if (try? fm.destinationOfSymbolicLink(atPath: link.path)) == target { return }
        if (try? fm.attributesOfItem(atPath: link.path)) != nil { try? fm.removeItem(at: link) }
        do {
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: target)
        } catch {
            throw ModelResolveError.cache(path: link.path, reason: "cannot create the symlink to \(target): \(OutputFile.reason(error))")
        }
    }

    /// Records that `revision` (a branch or tag) now points at `commit`.
    func writeRef(_ revision: String, commit: String) throws {
        guard revision != commit else { return }
        let ref = folder.appendingPathComponent("refs").appendingPathComponent(revision)
        if (try? String(contentsOf: ref, encoding: .utf8)) == commit { return }
        try createDirectory(ref.deletingLastPathComponent())
        do {
            try Data(commit.utf8).write(to: ref, options: .atomic)
        } catch {
            throw ModelResolveError.cache(path: ref.path, reason: "cannot write the ref: \(OutputFile.reason(error))")
        }
    }

    func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw ModelResolveError.cache(path: url.path, reason: "cannot create the directory: \(OutputFile.reason(error))")
        }
    }

    /// Runs `body` holding the exclusive `flock` that `huggingface_hub` (via `filelock`) takes on
    /// `.locks/<repo folder>/<etag>.lock`, so two processes never write the same blob.
    func withLock<T>(_ etag: String, _ body: () throws -> T) throws -> T {
        let dir = cacheDirectory.appendingPathComponent(".locks").appendingPathComponent(HubRepoCache.folderName(repo))
        try createDirectory(dir)
        let path = dir.appendingPathComponent(etag + ".lock").path
        let fd = open(path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else {
            throw ModelResolveError.cache(path: path, reason: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else {
            throw ModelResolveError.cache(path: path, reason: "cannot lock: \(String(cString: strerror(errno)))")
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
