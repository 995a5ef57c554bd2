/// Everything that can go wrong turning a model name into a local directory. Each message names
/// what was asked for (repo id, revision, file, path), what the hub answered (HTTP status), and
/// what to do about it.
public enum ModelResolveError: Error, CustomStringConvertible, Equatable {
    /// A path (it starts with `/`, `./`, `../` or `~`) that does not exist.
    case directoryNotFound(path: String)
    /// A local directory that lacks a file a model needs.
    case notAModelDirectory(path: String, missing: String)
    /// Not a local directory, not an alias, and not a valid hub repo id.
    case invalidModelName(String)
    /// `HF_HUB_OFFLINE` is set and the cache lacks these files.
    case offline(repo: String, revision: String, missing: [String], cache: String)
    /// The hub has no such repo (or it is private and no token was sent).
    case repoNotFound(repo: String, status: Int, hasToken: Bool)
    case revisionNotFound(repo: String, revision: String)
    case fileNotFound(repo: String, revision: String, file: String)
    /// 401/403: a gated or private repo; `file` is nil when the listing itself was refused.
    case unauthorized(repo: String, revision: String, file: String?, status: Int, hasToken: Bool, endpoint: String)
    /// Any other HTTP status.
    case http(url: String, status: Int, repo: String, file: String?)
    /// The connection failed (DNS, refused, reset, timed out, cut short).
    case network(url: String, repo: String, file: String?, reason: String)
    /// The repo has no `config.json` (or another required file) at this revision.
    case missingInRepo(repo: String, revision: String, file: String)
    /// The repo holds weights only in formats Mechanic does not read (`.bin`, `.h5`, …).
    case noSafetensors(repo: String, revision: String, found: [String])
    /// The hub answered something Mechanic cannot use (no commit hash, no ETag, bad JSON).
    case badResponse(url: String, reason: String)
    /// A downloaded file's size differs from what the hub announced.
    case sizeMismatch(repo: String, file: String, expected: Int64, got: Int64)
    /// Reading or writing the cache failed.
    case cache(path: String, reason: String)

    public var description: String {
        switch self {
        case let .directoryNotFound(path):
            return "model directory \(path) does not exist"
        case let .notAModelDirectory(path, missing):
            return "\(path) is not a model directory: it has no \(missing)"
        case let .invalidModelName(name):
            return "'\(name)' is not a local directory, a known model alias, or a Hugging Face repo id (like gpt2 or EleutherAI/pythia-70m)"
        case let .offline(repo, revision, missing, cache):
            return "HF_HUB_OFFLINE is set and the Hugging Face cache at \(cache) lacks \(missing.joined(separator: ", ")) "
                + "for \(repo) at revision \(revision); unset HF_HUB_OFFLINE to download, or pass a local directory"
        case let .repoNotFound(repo, status, hasToken):
            return "Hugging Face repo \(repo) was not found (HTTP \(status)); check the name"
                + (hasToken ? "" : ", and if it is private set HF_TOKEN to a token that can read it")
        case let .revisionNotFound(repo, revision):
            return "revision '\(revision)' was not found in Hugging Face repo \(repo) (HTTP 404); use a branch, tag or commit hash that exists"
        case let .fileNotFound(repo, revision, file):
            return "\(file) was not found in Hugging Face repo \(repo) at revision \(revision) (HTTP 404)"
        case let .unauthorized(repo, revision, file, status, hasToken, endpoint):
            let what = file.map { "\($0) from \(repo)" } ?? repo
            let fix = hasToken
                ? "the token in HF_TOKEN cannot read it: accept the model's license at \(endpoint)/\(repo) with that account, or use a token with access"
                : "it is gated or private: accept the license at \(endpoint)/\(repo), then set HF_TOKEN to a read token from \(endpoint)/settings/tokens"
            return "the Hugging Face hub refused \(what) at revision \(revision) (HTTP \(status)); \(fix)"
        case let .http(url, status, repo, file):
            return "downloading \(file.map { "\($0) of " } ?? "")\(repo) failed: \(url) answered HTTP \(status)"
        case let .network(url, repo, file, reason):
            return "downloading \(file.map { "\($0) of " } ?? "")\(repo) failed: \(url): \(reason)"
                + (file == nil ? "" : "; run again to resume")
        case let .missingInRepo(repo, revision, file):
            return "Hugging Face repo \(repo) has no \(file) at revision \(revision), so it is not a model Mechanic can load"
        case let .noSafetensors(repo, revision, found):
            return "Hugging Face repo \(repo) at revision \(revision) has no safetensors weights, only \(found.joined(separator: ", ")); "
                + "Mechanic reads safetensors only: convert the weights, or pick a revision that has model.safetensors"
        case let .badResponse(url, reason):
            return "unexpected reply from \(url): \(reason)"
        case let .sizeMismatch(repo, file, expected, got):
            return "downloaded \(file) of \(repo) has \(got) bytes but the hub announced \(expected); run again to download it afresh"
        case let .cache(path, reason):
            return "Hugging Face cache at \(path): \(reason)"
        }
    }
}
