import Foundation
import Testing
import MechanicIO
import MechanicTensor

/// Builds a repo in a Hugging Face cache by hand, the way huggingface_hub lays it out:
/// blobs named by ETag, relative symlinks from the snapshot, refs naming the commit.
@discardableResult
func buildCachedRepo(_ cache: URL, repo: String, commit: String, files: [String: Data],
                     refs: [String] = ["main"], absent: [String] = []) throws -> URL {
    let fm = FileManager.default
    let folder = cache.appendingPathComponent("models--" + repo.replacingOccurrences(of: "/", with: "--"))
    let snapshot = folder.appendingPathComponent("snapshots/\(commit)")
    try fm.createDirectory(at: folder.appendingPathComponent("blobs"), withIntermediateDirectories: true)
    try fm.createDirectory(at: snapshot, withIntermediateDirectories: true)
    for (name, data) in files {
        let etag = FakeHub.etag(data, lfs: name.hasSuffix(".safetensors"))
        try data.write(to: folder.appendingPathComponent("blobs/\(etag)"))
        let link = snapshot.appendingPathComponent(name)
        try fm.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
        let up = String(repeating: "../", count: 1 + name.split(separator: "/").count)
        try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "\(up)blobs/\(etag)")
    }
    try fm.createDirectory(at: folder.appendingPathComponent("refs"), withIntermediateDirectories: true)
    for ref in refs { try Data(commit.utf8).write(to: folder.appendingPathComponent("refs/\(ref)")) }
    for name in absent {
        let marker = folder.appendingPathComponent(".no_exist/\(commit)/\(name)")
        try fm.createDirectory(at: marker.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data().write(to: marker)
    }
    return snapshot
}

@Suite struct ModelResolverCacheTests {
    let commitA = String(repeating: "a", count: 40)
    let commitB = "0123456789abcdef0123456789abcdef01234567"

    @Test func resolvesFromAPrebuiltCacheLayout() throws {
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let files = try HubFixtures.singleFileRepo()
        let keep = ["config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer.json"]
        let snapshot = try buildCachedRepo(cache, repo: "EleutherAI/pythia-70m", commit: commitA,
                                           files: files.filter { keep.contains($0.key) })

        // Offline: what loading needs is there.
        let offline = testResolver(cache: cache, env: ["HF_HUB_OFFLINE": "1"])
        #expect(try offline.resolve("EleutherAI/pythia-70m").path == snapshot.path)
        // By alias, in any case.
        #expect(try offline.resolve("pythia-70m").path == snapshot.path)
        #expect(try offline.resolve("eleutherai/PYTHIA-70M").path == snapshot.path)
        #expect(try Checkpoint(directory: snapshot).tensor("wte.weight", shape: [6, 4])[0, 1] == 0.01)
        #expect(offline.cachedSnapshot(repo: "EleutherAI/pythia-70m")?.path == snapshot.path)
    }

    @Test func completeCacheNeedsNoNetwork() throws {
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let files = try HubFixtures.singleFileRepo().filter { !["README.md", "pytorch_model.bin", "onnx/model.onnx"].contains($0.key) }
        // Every candidate file is either present or recorded as absent: nothing to ask the hub.
        let snapshot = try buildCachedRepo(cache, repo: "gpt2", commit: commitA, files: files,
                                           absent: ["tokenizer.model", "special_tokens_map.json"])
        // HF_ENDPOINT points at a closed port: any request would fail.
        #expect(try testResolver(cache: cache).resolve("gpt2-small").path == snapshot.path)
        #expect(try testResolver(cache: cache).resolve("gpt2").path == snapshot.path)
    }

    @Test func revisionByBranchAndByCommitHash() throws {
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        var files = try HubFixtures.singleFileRepo()
        let a = try buildCachedRepo(cache, repo: "acme/tiny", commit: commitA, files: files, refs: ["main"])
        files["config.json"] = Data(#"{"n_layer": 2}"#.utf8)
        let b = try buildCachedRepo(cache, repo: "acme/tiny", commit: commitB, files: files, refs: ["v2.0"])
        let resolver = testResolver(cache: cache, env: ["HF_HUB_OFFLINE": "true"])

        #expect(try resolver.resolve("acme/tiny").path == a.path)
        #expect(try resolver.resolve("acme/tiny", revision: "main").path == a.path)
        #expect(try resolver.resolve("acme/tiny", revision: "v2.0").path == b.path)
        #expect(try resolver.resolve("acme/tiny", revision: commitB).path == b.path)
        #expect(try resolver.resolve("acme/tiny", revision: commitA).path == a.path)
        #expect(try Data(contentsOf: b.appendingPathComponent("config.json")) == Data(#"{"n_layer": 2}"#.utf8))
        #expect(try resolver.source(for: "acme/tiny", revision: "v2.0") == .hub(repo: "acme/tiny", revision: "v2.0"))
    }

    @Test func offlineErrorNamesRepoRevisionAndMissingFile() throws {
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        var files = try HubFixtures.singleFileRepo()
        files["model.safetensors"] = nil
        try buildCachedRepo(cache, repo: "acme/tiny", commit: commitA, files: files)
        let resolver = testResolver(cache: cache, env: ["HF_HUB_OFFLINE": "1"])
        let folder = cache.appendingPathComponent("models--acme--tiny").path

        let e = caught(ModelResolveError.self) { try resolver.resolve("acme/tiny") }
        #expect(e == .offline(repo: "acme/tiny", revision: "main", missing: ["model.safetensors"], cache: folder))
        let text = e?.description ?? ""
        #expect(text.contains("acme/tiny") && text.contains("model.safetensors") && text.contains("HF_HUB_OFFLINE") && text.contains(folder))
        // Without weights it is enough.
        #expect(try resolver.resolve("acme/tiny", weights: false).lastPathComponent == commitA)

        // A revision never fetched.
        let never = caught(ModelResolveError.self) { try resolver.resolve("acme/tiny", revision: "dev") }
        guard case let .offline(repo, revision, missing, _)? = never else {
            Issue.record("expected offline, got \(String(describing: never))")
            return
        }
        #expect(repo == "acme/tiny" && revision == "dev" && missing.contains("config.json"))

        // A repo never fetched, under TRANSFORMERS_OFFLINE too.
        let other = caught(ModelResolveError.self) {
            try testResolver(cache: cache, env: ["TRANSFORMERS_OFFLINE": "yes"]).resolve("meta-llama/Llama-2-7b-hf")
        }
        #expect(other?.description.contains("meta-llama/Llama-2-7b-hf") == true)
    }

    @Test func danglingSymlinkCountsAsMissing() throws {
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let files = try HubFixtures.singleFileRepo()
        let snapshot = try buildCachedRepo(cache, repo: "acme/tiny", commit: commitA, files: files)
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent("model.safetensors").path)
        try FileManager.default.removeItem(at: snapshot.appendingPathComponent(target).standardizedFileURL)
        let e = caught(ModelResolveError.self) { try testResolver(cache: cache, env: ["HF_HUB_OFFLINE": "1"]).resolve("acme/tiny") }
        guard case let .offline(_, _, missing, _)? = e else {
            Issue.record("expected offline, got \(String(describing: e))")
            return
        }
        #expect(missing == ["model.safetensors"])
    }

    @Test func cacheLocationFollowsHuggingFaceHub() {
        let home = "/home/ada"
        func cache(_ env: [String: String]) -> String {
            HubSettings(environment: env.merging(["HOME": home]) { $1 }).cacheDirectory.path
        }
        #expect(cache([:]) == "/home/ada/.cache/huggingface/hub")
        #expect(cache(["XDG_CACHE_HOME": "/xdg"]) == "/xdg/huggingface/hub")
        #expect(cache(["HF_HOME": "/data/hf"]) == "/data/hf/hub")
        #expect(cache(["HF_HOME": "~/hf"]) == "/home/ada/hf/hub")
        #expect(cache(["HF_HOME": "/data/hf", "HUGGINGFACE_HUB_CACHE": "/legacy"]) == "/legacy")
        #expect(cache(["HF_HOME": "/data/hf", "HF_HUB_CACHE": "/fast/hub", "HUGGINGFACE_HUB_CACHE": "/legacy"]) == "/fast/hub")
        #expect(cache(["HF_HUB_CACHE": "", "HF_HOME": "/data/hf"]) == "/data/hf/hub")
    }

    @Test func hfHubCacheWinsOverHFHomeWhenResolving() throws {
        let a = try makeTempDir("hubcache")
        let b = try makeTempDir("hfhome")
        defer { cleanUp(a); cleanUp(b) }
        let files = try HubFixtures.singleFileRepo()
        let inA = try buildCachedRepo(a, repo: "gpt2", commit: commitA, files: files)
        let inB = try buildCachedRepo(b.appendingPathComponent("hub"), repo: "gpt2", commit: commitB, files: files)
        let both = ModelResolver(environment: ["HF_HUB_CACHE": a.path, "HF_HOME": b.path, "HF_HUB_OFFLINE": "1"], progress: nil)
        #expect(try both.resolve("gpt2").path == inA.path)
        let homeOnly = ModelResolver(environment: ["HF_HOME": b.path, "HF_HUB_OFFLINE": "1"], progress: nil)
        #expect(try homeOnly.resolve("gpt2").path == inB.path)
    }

    @Test func settingsFromEnvironment() throws {
        let s = HubSettings(environment: ["HOME": "/nonexistent-home", "HF_ENDPOINT": "https://hf-mirror.example//",
                                          "HF_TOKEN": "  hf_abc\n", "HF_HUB_OFFLINE": "ON"])
        #expect(s.endpoint == "https://hf-mirror.example")
        #expect(s.token == "hf_abc")
        #expect(s.offline)
        let d = HubSettings(environment: ["HOME": "/nonexistent-home", "HF_HUB_OFFLINE": "0"])
        #expect(d.endpoint == "https://huggingface.co")
        #expect(d.token == nil)
        #expect(!d.offline)
        #expect(HubSettings(environment: ["HOME": "/x", "HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": "hf_old"]).token == "hf_old")
    }

    @Test func localDirectories() throws {
        let dir = try makeTempDir("model")
        defer { cleanUp(dir) }
        let resolver = testResolver(cache: dir)
        try HubFixtures.config.write(to: dir.appendingPathComponent("config.json"))

        let noWeights = caught(ModelResolveError.self) { try resolver.resolve(dir.path) }
        guard case let .notAModelDirectory(path, missing)? = noWeights else {
            Issue.record("expected notAModelDirectory, got \(String(describing: noWeights))")
            return
        }
        #expect(path == dir.path && missing.contains("model.safetensors"))
        #expect(try resolver.resolve(dir.path, weights: false).path == dir.path)

        var w = SafeTensorsWriter()
        w.add("wte.weight", Tensor(shape: [1], data: [1]))
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        #expect(try resolver.resolve(dir.path).path == dir.path)
        #expect(try resolver.source(for: dir.path) == .directory(dir.standardizedFileURL))

        let gone = dir.appendingPathComponent("nope").path
        #expect(caught(ModelResolveError.self) { try resolver.resolve(gone) } == .directoryNotFound(path: gone))
        let file = dir.appendingPathComponent("config.json").path
        guard case .notAModelDirectory? = caught(ModelResolveError.self, { try resolver.resolve(file) }) else {
            Issue.record("a file is not a model directory")
            return
        }
        let empty = try makeTempDir("empty")
        defer { cleanUp(empty) }
        #expect(caught(ModelResolveError.self) { try resolver.resolve(empty.path) } == .notAModelDirectory(path: empty.path, missing: "config.json"))
    }

    @Test func namesThatAreNotRepoIDs() throws {
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let resolver = testResolver(cache: cache)
        for bad in ["a/b/c", "bad name", "-dash", "x--y", "org/", "", "a..b"] {
            #expect(caught(ModelResolveError.self) { try resolver.source(for: bad) } == .invalidModelName(bad), "\(bad)")
        }
        #expect(try resolver.source(for: "gpt2-small") == .hub(repo: "gpt2", revision: "main"))
        #expect(try resolver.source(for: "llama-2-7b", revision: "refs/pr/1") == .hub(repo: "meta-llama/Llama-2-7b-hf", revision: "refs/pr/1"))
        #expect(try resolver.source(for: "someone/new-model_v1.5") == .hub(repo: "someone/new-model_v1.5", revision: "main"))
    }
}
