import Foundation

/// How a model name was understood: a local directory, or a repo on the Hugging Face hub at a
/// revision (aliases already mapped to repo ids).
public enum ModelSource: Sendable, Equatable, CustomStringConvertible {
    case directory(URL)
    case hub(repo: String, revision: String)

    public var description: String {
        switch self {
        case let .directory(url): return url.path
        case let .hub(repo, revision): return revision == "main" ? repo : "\(repo)@\(revision)"
        }
    }
}

/// Turns what a user types after `--model` into a local directory holding `config.json`, the
/// tokenizer files and the safetensors weights: a directory as is, or a hub repo from the
/// Hugging Face cache (shared with Python tools), downloading what the cache lacks unless
/// `HF_HUB_OFFLINE` is set.
///
///     let dir = try ModelResolver().resolve("gpt2-small")   // ~/.cache/huggingface/hub/models--gpt2/snapshots/<sha>
///     let checkpoint = try Checkpoint(directory: dir)
public struct ModelResolver: Sendable {
    public let settings: HubSettings
    public let progress: ProgressReporter?
    /// `HOME`, for `~` in model paths.
    private let home: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                progress: ProgressReporter? = .stderr) {
        settings = HubSettings(environment: environment)
        self.progress = progress
        home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    }

    /// `model` is a local directory path, a hub id (`"gpt2"`, `"EleutherAI/pythia-70m"`,
    /// `"meta-llama/Llama-2-7b-hf"`), or a TransformerLens alias (`"gpt2-small"`, `"pythia-70m"`).
    /// Returns a local directory containing config.json, tokenizer files and safetensors weights.
    /// `weights: false` fetches only config + tokenizer files (for `mechanic tokenize`).
    /// `revision` (a branch, tag or commit hash; `main` by default) applies to hub models only.
    public func resolve(_ model: String, revision: String? = nil, weights: Bool = true) throws -> URL {
        switch try source(for: model, revision: revision) {
        case let .directory(url):
            try ModelResolver.checkDirectory(url, weights: weights)
            return url
        case let .hub(repo, revision):
            return try resolveHub(repo: repo, revision: revision, weights: weights)
        }
    }

    /// How `model` is understood, without touching the cache or the network. A path (starting
    /// with `/`, `.` or `~`) must be a directory; a bare name is a local directory only when one
    /// with a config.json exists, else an alias or a hub repo id.
    public func source(for model: String, revision: String? = nil) throws -> ModelSource {
        let path = HubSettings.expandTilde(model, home: home)
        let looksLikePath = model.hasPrefix("/") || model.hasPrefix(".") || model.hasPrefix("~")
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if looksLikePath {
            guard exists else { throw ModelResolveError.directoryNotFound(path: path) }
            guard isDirectory.boolValue else {
                throw ModelResolveError.notAModelDirectory(path: path, missing: "contents: it is a file; pass the directory that holds config.json")
            }
            return .directory(URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL)
        }
        if exists, isDirectory.boolValue,
           FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(ModelFiles.config)) {
            return .directory(URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL)
        }
        let repo = ModelResolver.hubID(forAlias: model) ?? model
        guard ModelResolver.isValidRepoID(repo) else { throw ModelResolveError.invalidModelName(model) }
        let revision = revision.flatMap { $0.isEmpty ? nil : $0 } ?? "main"
        guard !revision.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0.isEmpty }) else {
            throw ModelResolveError.revisionNotFound(repo: repo, revision: revision)
        }
        return .hub(repo: repo, revision: revision)
    }

    /// The snapshot directory the cache holds for `repo` at `revision`, complete or not; nil when
    /// the revision was never fetched.
    public func cachedSnapshot(repo: String, revision: String = "main") -> URL? {
        let cache = HubRepoCache(repo: repo, cacheDirectory: settings.cacheDirectory)
        return cache.commit(for: revision).map(cache.snapshot)
    }

    private func resolveHub(repo: String, revision: String, weights: Bool) throws -> URL {
        let cache = HubRepoCache(repo: repo, cacheDirectory: settings.cacheDirectory)
        let commit = cache.commit(for: revision)
        func missing(strict: Bool) -> [String] {
            guard let commit else {
                return ModelFiles.missing(in: cache.folder.appendingPathComponent("(none)"), weights: weights, strict: false) { _ in false }
            }
            return ModelFiles.missing(in: cache.snapshot(commit), weights: weights, strict: strict) {
                cache.isMarkedAbsent($0, commit: commit)
            }
        }
        if let commit, missing(strict: true).isEmpty { return cache.snapshot(commit) }
        let needed = missing(strict: false)
        if settings.offline {
            if let commit, needed.isEmpty { return cache.snapshot(commit) }
            throw ModelResolveError.offline(repo: repo, revision: revision, missing: needed, cache: cache.folder.path)
        }
        do {
            return try HubDownloader(settings: settings, progress: progress).fetch(revision: revision, weights: weights, cache: cache)
        } catch ModelResolveError.network(let url, let repo, let file, let reason) {
            // No connection, but the cache has what loading needs: use it, as huggingface_hub does.
            if let commit, needed.isEmpty { return cache.snapshot(commit) }
            throw ModelResolveError.network(url: url, repo: repo, file: file, reason: reason)
        }
    }

    /// A local model directory must hold config.json and, for `weights`, safetensors weights.
    static func checkDirectory(_ url: URL, weights: Bool) throws {
        let fm = FileManager.default
        func has(_ name: String) -> Bool { fm.fileExists(atPath: url.appendingPathComponent(name).path) }
        guard has(ModelFiles.config) else {
            throw ModelResolveError.notAModelDirectory(path: url.path, missing: ModelFiles.config)
        }
        if weights, !has(ModelFiles.singleWeights), !has(ModelFiles.index) {
            let bin = has("pytorch_model.bin") || has("pytorch_model.bin.index.json")
            throw ModelResolveError.notAModelDirectory(
                path: url.path,
                missing: "model.safetensors or model.safetensors.index.json" + (bin ? " (only PyTorch .bin weights, which Mechanic does not read)" : ""))
        }
    }

    /// `huggingface_hub`'s `validate_repo_id`: `name` or `namespace/name` of letters, digits,
    /// `-`, `_`, `.`, not starting or ending with `-` or `.`, without `--` or `..`, ≤ 96 chars.
    static func isValidRepoID(_ id: String) -> Bool {
        guard !id.isEmpty, id.count <= 96, !id.contains("--"), !id.contains("..") else { return false }
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.first, let last = part.last else { return false }
            let word: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            return word(first) && word(last) && part.allSatisfy { word($0) || $0 == "-" || $0 == "." }
        }
    }
}
