import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicIO
import MechanicTensor

/// The processed-weights cache: used when valid, rebuilt when the source changes or the file is
/// damaged, and bit-identical results with and without it. Every cache lives in a temporary
/// directory of the test (never the user's ~/.cache).
@Suite struct WeightCacheTests {
    static let families = ["gpt2-tiny", "gpt2-tiny-scaled", "llama-tiny", "pythia-tiny", "pythia-tiny-sequential", "qwen2-tiny"]

    func tempDir(_ label: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-wcache-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func load(_ dir: URL, cache: URL?, processing: WeightProcessing = .default) throws -> HookedTransformer {
        try HookedTransformer.load(dir, options: LoadOptions(processing: processing, streaming: false,
                                                             weightCache: cache != nil, cacheDirectory: cache))
    }

    /// Logits and every hook's activation (all optional hook points but the per-head inputs,
    /// then those in a second pass) on a padded batch of two rows.
    func everything(_ m: HookedTransformer) throws -> [String: Tensor] {
        let batch = try TokenBatch(ids: [[1, 5, 9, 3, 7], [2, 4, 6, 0, 0]], mask: [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        var out: [String: Tensor] = [:]
        let a = try m.runWithCache(batch, names: .all, hookOptions: HookOptions(attnResult: true, mlpIn: true))
        out["logits"] = a.logits
        for (k, v) in a.cache.activations { out[k] = v }
        let b = try m.runWithCache(batch, names: .all, hookOptions: HookOptions(splitQKVInput: true))
        for (k, v) in b.cache.activations where out[k] == nil { out[k] = v }
        return out
    }

    @Test(arguments: families)
    func cachedResultsAreBitIdentical(_ name: String) throws {
        let cache = try tempDir("same")
        defer { try? FileManager.default.removeItem(at: cache) }
        let dir = TestFixtures.model(name)
        for processing in [WeightProcessing.default, .none] {
            let plain = try load(dir, cache: nil, processing: processing)
            let built = try load(dir, cache: cache, processing: processing)
            let mapped = try load(dir, cache: cache, processing: processing)
            #expect(plain.weightLoad.source == .checkpoint)
            #expect(built.weightLoad.source == .builtCache)
            #expect(mapped.weightLoad.source == .cache)
            #expect(mapped.weightLoad.cacheFile == built.weightLoad.cacheFile)
            #expect(mapped.config == plain.config)
            let (x, y, z) = (try everything(plain), try everything(built), try everything(mapped))
            #expect(x.count > 20)
            #expect(Set(x.keys) == Set(z.keys))
            for (k, v) in x {
                #expect(y[k] == v, "\(name) \(k): built cache differs")
                #expect(z[k] == v, "\(name) \(k): mapped cache differs")
            }
            // TransformerLens views derived from the fused storage match.
            for l in 0..<plain.config.nLayers {
                let (p, q) = (try plain.block(l), try mapped.block(l))
                #expect(p.W_Q == q.W_Q && p.W_K == q.W_K && p.W_V == q.W_V && p.b_Q == q.b_Q && p.b_V == q.b_V)
                #expect(p.W_in == q.W_in && p.W_out == q.W_out && p.W_O == q.W_O)
            }
            #expect(plain.weights.W_U == mapped.weights.W_U && plain.weights.W_E == mapped.weights.W_E)
        }
        // One file per processing mode.
        let files = try FileManager.default.subpathsOfDirectory(atPath: cache.path).filter { $0.hasSuffix(".safetensors") }
        #expect(files.count == 2)
    }

    /// The per-head views are the fused storage's columns, and writing one rewrites them.
    @Test func headViewsRoundTripThroughFusedStorage() throws {
        let m = try load(TestFixtures.model("llama-tiny"), cache: nil)   // grouped-query: 6 heads, fewer kv heads
        var b = try m.block(0)
        let (H, K, E, D) = (m.config.nHeads, m.config.nKeyValueHeads, m.config.dHead, m.config.dModel)
        #expect(K < H)
        let W_K = b.W_K
        #expect(W_K.shape == [K, D, E])
        // W_K[h, m, e] sits at column H·E + h·E + e of row m.
        #expect(W_K[1, 3, 2] == b.wQKV[3, H * E + 1 * E + 2])
        var changed = W_K
        changed[1, 3, 2] = 42
        b.W_K = changed
        #expect(b.wQKV[3, H * E + E + 2] == 42)
        #expect(b.W_K == changed)
        #expect(b.W_Q == (try m.block(0)).W_Q)
    }

    func cacheFile(_ m: HookedTransformer) throws -> URL {
        let path = try #require(m.weightLoad.cacheFile)
        return URL(fileURLWithPath: path)
    }

    @Test func changedSourceRebuildsTheCache() throws {
        let cache = try tempDir("changed")
        let dir = try tempDir("model")
        defer { try? FileManager.default.removeItem(at: cache); try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("gpt2-tiny")
        try FileManager.default.copyItem(at: TestFixtures.model("gpt2-tiny"), to: model)
        let first = try load(model, cache: cache)
        #expect(first.weightLoad.source == .builtCache)
        let oldFile = try cacheFile(first)
        #expect(try load(model, cache: cache).weightLoad.source == .cache)

        // New values for one tensor: the cache must not serve the old ones.
        let url = model.appendingPathComponent("model.safetensors")
        let st = try SafeTensorsFile(url: url)
        var w = SafeTensorsWriter()
        for name in st.names {
            var t = try st.tensor(name)
            if name.hasSuffix("h.1.mlp.c_proj.bias") { t.data[0] += 1 }
            w.add(name, t)
        }
        try w.write(to: url)
        let rebuilt = try load(model, cache: cache)
        #expect(rebuilt.weightLoad.source == .builtCache)
        #expect(try cacheFile(rebuilt) != oldFile)
        #expect(!FileManager.default.fileExists(atPath: oldFile.path))   // the stale file is removed
        let plain = try load(model, cache: nil)
        #expect(try everything(rebuilt) == everything(plain))
        #expect(rebuilt.weights.W_U == plain.weights.W_U)
        #expect(try rebuilt.block(1).b_out != first.block(1).b_out)

        // The same bytes with a new modification time also make a new key.
        let later = Date().addingTimeInterval(10)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: url.path)
        #expect(try load(model, cache: cache).weightLoad.source == .builtCache)
        #expect(try load(model, cache: cache).weightLoad.source == .cache)
    }

    /// Damages the cache file with `damage` and checks the next load discards and rebuilds it.
    func expectRebuilt(_ label: String, mentioning word: String, _ damage: (URL, SafeTensorsFile) throws -> Void) throws {
        let cache = try tempDir(label)
        defer { try? FileManager.default.removeItem(at: cache) }
        let dir = TestFixtures.model("pythia-tiny")
        let built = try load(dir, cache: cache)
        let file = try cacheFile(built)
        try damage(file, try SafeTensorsFile(url: file))
        let again = try load(dir, cache: cache)
        #expect(again.weightLoad.source == .builtCache, "\(label)")
        #expect(again.weightLoad.note?.contains(word) == true, "\(label): \(again.weightLoad.note ?? "no note")")
        #expect(try everything(again) == everything(try load(dir, cache: nil)))
        #expect(try load(dir, cache: cache).weightLoad.source == .cache)
    }

    func overwrite(_ file: URL, at offset: Int, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forWritingTo: file)
        try h.seek(toOffset: UInt64(offset))
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    @Test func truncatedCacheFileIsRebuilt() throws {
        try expectRebuilt("truncated", mentioning: "truncated") { file, _ in
            let h = try FileHandle(forWritingTo: file)
            let size = try h.seekToEnd()
            try h.truncate(atOffset: size - 1000)
            try h.close()
        }
    }

    @Test func cacheFileWithDamagedDataIsRebuilt() throws {
        try expectRebuilt("data", mentioning: "checksum") { file, st in
            let info = try st.info("blocks.1.mlp.W_in")
            try overwrite(file, at: info.byteOffset + 8, [1, 2, 3, 4])   // within the sampled first 4 KiB
        }
    }

    @Test func cacheFileWithDamagedHeaderIsRebuilt() throws {
        try expectRebuilt("header", mentioning: "header") { file, _ in try overwrite(file, at: 8, Array("not json".utf8)) }
    }

    @Test func cacheFileOfAnotherKeyIsNotUsed() throws {
        try expectRebuilt("key", mentioning: "other source files") { file, st in
            // The file's recorded key made to differ (as if written for another format version).
            let key = try #require(st.metadata[WeightCacheFile.keyMetadata])
            #expect(key.hasPrefix("mechanic-weights v1\n"))
            let at = try #require(try Data(contentsOf: file).range(of: Data(key.utf8.prefix(19))))
            try overwrite(file, at: at.lowerBound, Array("mechanic-weights v9".utf8))
        }
    }

    @Test func unwritableCacheFallsBackToMemory() throws {
        let parent = try tempDir("unwritable")
        defer { try? FileManager.default.removeItem(at: parent) }
        let notADirectory = parent.appendingPathComponent("file")
        try Data("x".utf8).write(to: notADirectory)
        let m = try load(TestFixtures.model("gpt2-tiny"), cache: notADirectory)
        #expect(m.weightLoad.source == .checkpoint)
        #expect(m.weightLoad.note?.contains("could not be written") == true)
        #expect(try everything(m) == everything(try load(TestFixtures.model("gpt2-tiny"), cache: nil)))
    }

    @Test func defaultDirectoryFollowsTheEnvironment() {
        #expect(WeightCache.defaultDirectory(environment: ["MECHANIC_CACHE": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/h"]).path == "/a")
        #expect(WeightCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/b", "HOME": "/h"]).path == "/b/mechanic")
        #expect(WeightCache.defaultDirectory(environment: ["HOME": "/h"]).path == "/h/.cache/mechanic")
        #expect(WeightCache.defaultDirectory(environment: ["MECHANIC_CACHE": "", "HOME": "/h"]).path == "/h/.cache/mechanic")
    }
}
