import Foundation
import Testing
import MechanicIO
import MechanicTensor

/// Downloads from a local fake hub into a temp Hugging Face cache; nothing touches the network.
@Suite struct ModelResolverDownloadTests {
    @Test func downloadsIntoTheHubCacheLayout() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let files = try HubFixtures.singleFileRepo()
        let sha = hub.addRepo("acme/tiny-gpt2", files: files)
        let log = ProgressLog()

        let dir = try testResolver(cache: cache, hub: hub, progress: log.reporter()).resolve("acme/tiny-gpt2")

        let repo = cache.appendingPathComponent("models--acme--tiny-gpt2")
        #expect(dir.path == repo.appendingPathComponent("snapshots/\(sha)").path)
        #expect(try String(contentsOf: repo.appendingPathComponent("refs/main"), encoding: .utf8) == sha)
        let fm = FileManager.default
        let wanted = ["config.json", "generation_config.json", "vocab.json", "merges.txt", "tokenizer.json",
                      "tokenizer_config.json", "model.safetensors"]
        #expect(try fm.contentsOfDirectory(atPath: dir.path).sorted() == wanted.sorted())
        for name in wanted {
            let data = try #require(files[name])
            let lfs = name.hasSuffix(".safetensors")
            let etag = FakeHub.etag(data, lfs: lfs)
            // A relative symlink into blobs/, named by the ETag (X-Linked-Etag for LFS files).
            #expect(try fm.destinationOfSymbolicLink(atPath: dir.appendingPathComponent(name).path) == "../../blobs/\(etag)")
            #expect(try Data(contentsOf: repo.appendingPathComponent("blobs/\(etag)")) == data)
        }
        #expect(try fm.contentsOfDirectory(atPath: repo.appendingPathComponent("blobs").path).allSatisfy { !$0.hasSuffix(".incomplete") })
        // Files the repo lacks are recorded as huggingface_hub does, so the next run stays offline.
        #expect(fm.fileExists(atPath: repo.appendingPathComponent(".no_exist/\(sha)/tokenizer.model").path))
        #expect(fm.fileExists(atPath: repo.appendingPathComponent(".no_exist/\(sha)/special_tokens_map.json").path))
        #expect(fm.fileExists(atPath: cache.appendingPathComponent(".locks/models--acme--tiny-gpt2").path))
        // Not fetched: README, .bin and onnx files.
        #expect(!hub.requests.contains { $0.path.contains("README") || $0.path.contains(".bin") || $0.path.contains("onnx") })
        // Listing first, by revision.
        #expect(hub.requests.first?.path == "/api/models/acme/tiny-gpt2/revision/main")
        // Files are fetched at the listed commit, so a snapshot never mixes commits.
        #expect(hub.requests.filter { $0.path.contains("/resolve/") }.allSatisfy { $0.path.contains("/resolve/\(sha)/") })
        // Non-interactive progress: one final line per file.
        let lines = log.text.split(separator: "\n")
        #expect(lines.count == wanted.count)
        #expect(lines.contains { $0.hasPrefix("downloaded acme/tiny-gpt2/model.safetensors: ") && $0.hasSuffix("B/s)") })
        #expect(!log.text.contains("\r"))

        let checkpoint = try Checkpoint(directory: dir)
        #expect(try checkpoint.tensor("wte.weight", shape: [6, 4])[5, 3] == Float(23) * 0.01)
        #expect(try checkpoint.tensor("h.0.ln_1.weight").data == [1, 1, 1, 1])

        // A second resolve is answered from the cache without any request.
        let before = hub.requests.count
        #expect(try testResolver(cache: cache, hub: hub).resolve("acme/tiny-gpt2") == dir)
        #expect(hub.requests.count == before)
    }

    @Test func downloadsShardedCheckpoint() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let sha = hub.addRepo("acme/sharded", files: try HubFixtures.shardedRepo())

        let dir = try testResolver(cache: cache, hub: hub).resolve("acme/sharded")
        #expect(dir.lastPathComponent == sha)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names.contains("model.safetensors.index.json"))
        #expect(names.contains("model-00001-of-00002.safetensors"))
        #expect(names.contains("model-00002-of-00002.safetensors"))
        let checkpoint = try Checkpoint(directory: dir)
        #expect(checkpoint.names == ["h.0.ln_1.weight", "wte.weight"])
        #expect(try checkpoint.tensor("h.0.ln_1.weight").data == [2, 2, 2, 2])
        #expect(try checkpoint.tensor("wte.weight")[1, 0] == 0.04)
    }

    @Test func resumesAPartialDownloadWithRange() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let files = try HubFixtures.singleFileRepo(weightElements: 250_000)  // ~1 MB
        let weights = try #require(files["model.safetensors"])
        hub.addRepo("acme/resume", files: files)
        hub.cutShort(weights, after: 300_000)
        let resolver = testResolver(cache: cache, hub: hub)

        // The first attempt is cut short: a typed network error, the partial file kept.
        let first = caught(ModelResolveError.self) { try resolver.resolve("acme/resume") }
        guard case let .network(_, repo, file, _)? = first else {
            Issue.record("expected a network error, got \(String(describing: first))")
            return
        }
        #expect(repo == "acme/resume" && file == "model.safetensors")
        #expect(first?.description.contains("resume") == true)
        let etag = FakeHub.etag(weights, lfs: true)
        let partial = cache.appendingPathComponent("models--acme--resume/blobs/\(etag).incomplete")
        let kept = try #require(try? Data(contentsOf: partial))
        #expect(kept.count > 0 && kept.count <= 300_000)
        #expect(kept == weights.prefix(kept.count))

        // The second asks only for the rest and ends with the exact bytes.
        let dir = try resolver.resolve("acme/resume")
        let ranged = hub.requests.filter { $0.header("range") != nil }
        #expect(ranged.count == 1)
        #expect(ranged.first?.header("range") == "bytes=\(kept.count)-")
        #expect(ranged.first?.path == "/cdn/\(etag)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("model.safetensors")) == weights)
        #expect(!FileManager.default.fileExists(atPath: partial.path))
        #expect(try Checkpoint(directory: dir).tensor("big")[249_999] == Float(249_999) * 0.01)
    }

    @Test func restartsWhenTheServerIgnoresRangeOrThePartialFileIsTooLong() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let files = try HubFixtures.singleFileRepo(weightElements: 50_000)
        let weights = try #require(files["model.safetensors"])
        hub.addRepo("acme/a", files: files)
        hub.addRepo("acme/b", files: files)
        let etag = FakeHub.etag(weights, lfs: true)
        let resolver = testResolver(cache: cache, hub: hub)

        // A partial file, but the server answers a Range request with the whole file (200).
        let blobs = cache.appendingPathComponent("models--acme--a/blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try weights.prefix(1000).write(to: blobs.appendingPathComponent("\(etag).incomplete"))
        hub.honorRanges(false)
        let a = try resolver.resolve("acme/a")
        #expect(hub.requests.contains { $0.header("range") == "bytes=1000-" })
        #expect(try Data(contentsOf: a.appendingPathComponent("model.safetensors")) == weights)

        // A partial file longer than the real one is thrown away, not resumed.
        hub.honorRanges(true)
        let blobsB = cache.appendingPathComponent("models--acme--b/blobs")
        try FileManager.default.createDirectory(at: blobsB, withIntermediateDirectories: true)
        try Data(repeating: 1, count: weights.count + 10).write(to: blobsB.appendingPathComponent("\(etag).incomplete"))
        let before = hub.requests.count
        let b = try resolver.resolve("acme/b")
        #expect(hub.requests.dropFirst(before).allSatisfy { $0.header("range") == nil })
        #expect(try Data(contentsOf: b.appendingPathComponent("model.safetensors")) == weights)
    }

    @Test func sendsTheTokenToTheHubButNotToTheCDN() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        hub.addRepo("meta-llama/Gated-7b", files: try HubFixtures.singleFileRepo(), token: "hf_s3cret")

        for key in ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"] {
            let dir = try testResolver(cache: cache, hub: hub, env: [key: "hf_s3cret"]).resolve("meta-llama/Gated-7b")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path))
            cleanUp(cache)
        }
        let toHub = hub.requests.filter { !$0.path.hasPrefix("/cdn/") }
        let toCDN = hub.requests.filter { $0.path.hasPrefix("/cdn/") }
        #expect(!toHub.isEmpty && toHub.allSatisfy { $0.header("authorization") == "Bearer hf_s3cret" })
        #expect(toCDN.count == 2 && toCDN.allSatisfy { $0.header("authorization") == nil })
        #expect(hub.requests.allSatisfy { $0.header("accept-encoding") == "identity" })

        // The token `huggingface-cli login` stored is used too.
        let home = try makeTempDir("home")
        defer { cleanUp(home) }
        try FileManager.default.createDirectory(at: home.appendingPathComponent("hf"), withIntermediateDirectories: true)
        try Data("hf_s3cret\n".utf8).write(to: home.appendingPathComponent("hf/token"))
        _ = try testResolver(cache: cache, hub: hub, env: ["HF_HOME": home.appendingPathComponent("hf").path]).resolve("meta-llama/Gated-7b")
    }

    @Test func gatedRepoWithoutOrWithWrongToken() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        hub.addRepo("meta-llama/Gated-7b", files: try HubFixtures.singleFileRepo(), token: "hf_s3cret")

        let none = caught(ModelResolveError.self) { try testResolver(cache: cache, hub: hub).resolve("meta-llama/Gated-7b") }
        #expect(none == .unauthorized(repo: "meta-llama/Gated-7b", revision: "main", file: "config.json", status: 401,
                                      hasToken: false, endpoint: hub.endpoint))
        let text = none?.description ?? ""
        #expect(text.contains("HF_TOKEN") && text.contains("meta-llama/Gated-7b") && text.contains("401") && text.contains("license"))

        let wrong = caught(ModelResolveError.self) {
            try testResolver(cache: cache, hub: hub, env: ["HF_TOKEN": "hf_wrong"]).resolve("meta-llama/Gated-7b")
        }
        guard case let .unauthorized(_, _, _, status, hasToken, _)? = wrong else {
            Issue.record("expected unauthorized, got \(String(describing: wrong))")
            return
        }
        #expect(status == 403 && hasToken)
        #expect(wrong?.description.contains("accept the model's license at \(hub.endpoint)/meta-llama/Gated-7b") == true)
    }

    @Test func notFoundErrorsNameRepoRevisionAndFile() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        var broken = try HubFixtures.shardedRepo()
        broken["model-00002-of-00002.safetensors"] = nil
        hub.addRepo("acme/broken", files: broken)
        hub.addRepo("acme/tiny", files: try HubFixtures.singleFileRepo())
        let resolver = testResolver(cache: cache, hub: hub)

        let repo = caught(ModelResolveError.self) { try resolver.resolve("acme/nope") }
        #expect(repo == .repoNotFound(repo: "acme/nope", status: 404, hasToken: false))
        #expect(repo?.description.contains("acme/nope") == true && repo?.description.contains("404") == true)

        let revision = caught(ModelResolveError.self) { try resolver.resolve("acme/tiny", revision: "v9") }
        #expect(revision == .revisionNotFound(repo: "acme/tiny", revision: "v9"))
        #expect(revision?.description.contains("'v9'") == true)

        let file = caught(ModelResolveError.self) { try resolver.resolve("acme/broken") }
        #expect(file == .fileNotFound(repo: "acme/broken", revision: "main", file: "model-00002-of-00002.safetensors"))
        #expect(file?.description.contains("model-00002-of-00002.safetensors was not found in Hugging Face repo acme/broken at revision main") == true)
    }

    @Test func repoWithOnlyBinWeightsOrNoConfig() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        var bin = try HubFixtures.singleFileRepo()
        bin["model.safetensors"] = nil
        hub.addRepo("old/bin-only", files: bin)
        var noConfig = try HubFixtures.singleFileRepo()
        noConfig["config.json"] = nil
        hub.addRepo("odd/no-config", files: noConfig)
        let resolver = testResolver(cache: cache, hub: hub)

        let e = caught(ModelResolveError.self) { try resolver.resolve("old/bin-only") }
        #expect(e == .noSafetensors(repo: "old/bin-only", revision: "main", found: ["onnx/model.onnx", "pytorch_model.bin"]))
        #expect(e?.description.contains("safetensors") == true)
        // Tokenizing needs no weights, so it still works.
        let dir = try resolver.resolve("old/bin-only", weights: false)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokenizer.json").path))

        let c = caught(ModelResolveError.self) { try resolver.resolve("odd/no-config") }
        #expect(c == .missingInRepo(repo: "odd/no-config", revision: "main", file: "config.json"))
    }

    @Test func tokenizerOnlyThenWeights() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        hub.addRepo("acme/tiny", files: try HubFixtures.singleFileRepo())
        let resolver = testResolver(cache: cache, hub: hub)

        let dir = try resolver.resolve("acme/tiny", weights: false)
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: dir.appendingPathComponent("config.json").path))
        #expect(fm.fileExists(atPath: dir.appendingPathComponent("vocab.json").path))
        #expect(!fm.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path))
        #expect(!hub.requests.contains { $0.path.contains("model.safetensors") })

        let before = hub.requests.count
        #expect(try resolver.resolve("acme/tiny") == dir)
        let later = hub.requests.dropFirst(before).map(\.path)
        // One listing, then only the weights (HEAD on resolve, GET from the CDN).
        #expect(later.count == 3)
        #expect(later.dropFirst().allSatisfy { $0.contains("model.safetensors") || $0.hasPrefix("/cdn/") })
    }

    @Test func branchAndCommitRevisions() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let old = hub.addRepo("acme/tiny", files: try HubFixtures.singleFileRepo(), branches: ["v1"])
        var newer = try HubFixtures.singleFileRepo()
        newer["config.json"] = Data(#"{"model_type": "gpt2", "n_layer": 2}"#.utf8)
        let main = hub.addRepo("acme/tiny", files: newer, branches: ["main"])
        let resolver = testResolver(cache: cache, hub: hub)
        let repo = cache.appendingPathComponent("models--acme--tiny")

        let v1 = try resolver.resolve("acme/tiny", revision: "v1")
        #expect(v1.lastPathComponent == old)
        #expect(try String(contentsOf: repo.appendingPathComponent("refs/v1"), encoding: .utf8) == old)
        #expect(try Data(contentsOf: v1.appendingPathComponent("config.json")) == HubFixtures.config)

        let byHash = try resolver.resolve("acme/tiny", revision: main)
        #expect(byHash.lastPathComponent == main)
        #expect(try Data(contentsOf: byHash.appendingPathComponent("config.json")) == newer["config.json"])
        // A commit hash is not a ref: nothing written under refs/ for it, nor for main.
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo.appendingPathComponent("refs").path) == ["v1"])
        // Identical blobs are shared between the snapshots.
        let weights = try FileManager.default.destinationOfSymbolicLink(atPath: v1.appendingPathComponent("model.safetensors").path)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: byHash.appendingPathComponent("model.safetensors").path) == weights)
    }

    @Test func streamsAMultiMegabyteFileWithInteractiveProgress() throws {
        let hub = try FakeHub()
        defer { hub.stop() }
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        let files = try HubFixtures.singleFileRepo(weightElements: 4_000_000)  // 16 MB
        hub.addRepo("acme/big", files: files)
        let log = ProgressLog()

        let start = Date()
        let dir = try testResolver(cache: cache, hub: hub, progress: log.reporter(interactive: true)).resolve("acme/big")
        let seconds = Date().timeIntervalSince(start)
        let got = try Data(contentsOf: dir.appendingPathComponent("model.safetensors"))
        #expect(got == files["model.safetensors"])
        #expect(got.count > 16_000_000)
        #expect(seconds < 60)
        // A terminal gets the bar redrawn in place, then a final line.
        #expect(log.text.contains("\r\u{1B}[2K"))
        #expect(log.text.contains("downloaded acme/big/model.safetensors: 16.0 MB in "))
    }

    @Test func fallsBackToTheCacheWhenTheHubIsUnreachable() throws {
        let hub = try FakeHub()
        let cache = try makeTempDir("cache")
        defer { cleanUp(cache) }
        var files = try HubFixtures.singleFileRepo()
        files["tokenizer.json"] = nil
        hub.addRepo("acme/tiny", files: files)
        let dir = try testResolver(cache: cache, hub: hub).resolve("acme/tiny")
        hub.stop()
        // Lose a marker, so the cache no longer looks complete and the resolver asks the hub.
        let marker = dir.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".no_exist/\(dir.lastPathComponent)/tokenizer.json")
        try FileManager.default.removeItem(at: marker)
        let env = ["HF_ENDPOINT": hub.endpoint]
        #expect(try testResolver(cache: cache, env: env).resolve("acme/tiny") == dir)

        let e = caught(ModelResolveError.self) { try testResolver(cache: cache, env: env).resolve("acme/other") }
        guard case let .network(url, repo, _, _)? = e else {
            Issue.record("expected a network error, got \(String(describing: e))")
            return
        }
        #expect(repo == "acme/other" && url.hasPrefix(hub.endpoint))
    }
}
