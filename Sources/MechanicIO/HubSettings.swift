import Foundation

/// The Hugging Face settings `huggingface_hub` reads from the environment, read the same way so
/// that Mechanic and Python tools share one cache and one login.
public struct HubSettings: Sendable, Equatable {
    /// `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else `HF_HOME/hub`, where `HF_HOME`
    /// defaults to `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
    public var cacheDirectory: URL
    /// `HF_ENDPOINT` without a trailing slash; `https://huggingface.co` by default.
    public var endpoint: String
    /// `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else the file `huggingface-cli login` writes
    /// (`HF_TOKEN_PATH`, else `HF_HOME/token`).
    public var token: String?
    /// `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is 1, true, yes or on.
    public var offline: Bool

    public init(environment: [String: String]) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        func path(_ key: String) -> String? {
            guard let value = environment[key], !value.isEmpty else { return nil }
            return HubSettings.expandTilde(value, home: home)
        }
        let hfHome = path("HF_HOME")
            ?? ((path("XDG_CACHE_HOME") ?? home + "/.cache") as NSString).appendingPathComponent("huggingface")
        let cache = path("HF_HUB_CACHE") ?? path("HUGGINGFACE_HUB_CACHE") ?? (hfHome as NSString).appendingPathComponent("hub")
        cacheDirectory = URL(fileURLWithPath: cache, isDirectory: true)

        var endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint

        let tokenFile = path("HF_TOKEN_PATH") ?? (hfHome as NSString).appendingPathComponent("token")
        let candidates = [environment["HF_TOKEN"], environment["HUGGING_FACE_HUB_TOKEN"],
                          try? String(contentsOfFile: tokenFile, encoding: .utf8)]
        token = candidates.lazy.compactMap { $0?.trimmingCharacters(in: .whitespacesAndNewlines) }.first { !$0.isEmpty }

        offline = HubSettings.isTrue(environment["HF_HUB_OFFLINE"]) || HubSettings.isTrue(environment["TRANSFORMERS_OFFLINE"])
    }

    /// `huggingface_hub`'s `_is_true`: 1, ON, YES, TRUE in any case.
    static func isTrue(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(value.uppercased())
    }

    static func expandTilde(_ path: String, home: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }
}
