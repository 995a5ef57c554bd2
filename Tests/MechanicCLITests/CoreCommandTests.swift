import Foundation
import Testing
@testable import Mechanic

@Suite struct CoreCommandTests {
    @Test func cacheWritesEveryHookWithoutTheBatchAxisPlusLogitsAndTokens() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString).safetensors")
        let r = try CLI.run(["cache", "--model", CLI.model("gpt2-tiny"), "--tokens", "499,279,410,358", "--attn-result", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let file = try SafeTensorsFile(url: out)
        let model = try HookedTransformer.load(URL(fileURLWithPath: CLI.model("gpt2-tiny")))
        let (logits, cache) = try model.runWithCache(TokenBatch([499, 279, 410, 358]), names: .all, hookOptions: HookOptions(attnResult: true))
        #expect(Set(file.names) == Set(cache.names + ["logits", "tokens"]))
        #expect(try file.integers("tokens") == [499, 279, 410, 358])
        #expect(try file.tensor("logits").shape == [4, 500])
        // The CLI runs the same forward on the same shapes: bit-exact by construction.
        #expect(try file.tensor("logits").data == logits.data)
        #expect(try file.tensor("blocks.1.attn.hook_pattern").shape == [4, 4, 4])
        #expect(try file.tensor("blocks.1.attn.hook_result").data == cache["blocks.1.attn.hook_result"]?.data)
    }

    @Test func cacheNamesFilterAndNoProcessing() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString).safetensors")
        let r = try CLI.run(["cache", "--model", CLI.model("gpt2-tiny"), "--tokens", "499,279", "--no-processing",
                             "--names", "ln1\\.hook_(scale|normalized)", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let file = try SafeTensorsFile(url: out)
        #expect(Set(file.names) == ["blocks.0.ln1.hook_scale", "blocks.0.ln1.hook_normalized", "blocks.1.ln1.hook_scale",
                                    "blocks.1.ln1.hook_normalized", "logits", "tokens"])
        let ref = try SafeTensorsFile(url: CLI.fixtures.appendingPathComponent("reference/gpt2-tiny/unprocessed_p0.safetensors"))
        // unprocessed ln1.hook_normalized includes the LayerNorm weight and bias: compare the first two positions
        let ours = try file.tensor("blocks.0.ln1.hook_normalized"), theirs = try ref.tensor("blocks.0.ln1.hook_normalized")
        for i in 0..<(2 * 64) { #expect(abs(ours.data[i] - theirs.data[i]) < 1e-4) }
    }

    @Test func predictJSONListsTheTopTokensInOrder() throws {
        let r = try CLI.run(["predict", "--model", CLI.model("gpt2-tiny"), "--tokens", "499,279,410", "--top", "3", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let top = try CLI.json(r)["top"] as? [[String: Any]] ?? []
        let model = try HookedTransformer.load(URL(fileURLWithPath: CLI.model("gpt2-tiny")))
        let logits = try #require(try model.forward(TokenBatch([499, 279, 410]), options: ForwardOptions(logits: .last)).logits)
        let expected = logits.data.indices.sorted { logits.data[$0] > logits.data[$1] }.prefix(3)
        #expect(top.compactMap { $0["id"] as? Int } == Array(expected))
        let probs = top.compactMap { $0["prob"] as? Double }
        #expect(probs == probs.sorted(by: >) && probs.allSatisfy { $0 > 0 && $0 < 1 })
    }

    /// What predict prints on the gpt2-tiny fixture, pinned (a faster unembedding of the last row
    /// must not change it).
    @Test func predictPrintsThePinnedTopTokens() throws {
        let r = try CLI.run(["predict", "--model", CLI.model("gpt2-tiny"), "--tokens", "499,279,410", "--top", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = """
        prompt tokens: "<|endoftext|>"(499) "The"(279) " cat"(410)
          1  logit    9.933  prob  76.28%  id    100  "\u{FFFD}"
          2  logit    6.856  prob   3.51%  id    328  "st"
          3  logit    6.108  prob   1.66%  id    309  " was"
          4  logit    6.014  prob   1.51%  id    280  "es"
          5  logit    5.754  prob   1.17%  id    450  "olf"

        """
        #expect(r.stdout == expected)
    }

    @Test func generateGreedyMatchesTransformerLens() throws {
        let r = try CLI.run(["generate", "--model", CLI.model("llama-tiny"), "--tokens", "1,5,9,13", "--max-new-tokens", "4", "--temperature", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let model = try HookedTransformer.load(URL(fileURLWithPath: CLI.model("llama-tiny")))
        let expected = try model.generate(TokenBatch([1, 5, 9, 13]), maxNewTokens: 4, sampling: .greedy)[0]
        if model.tokenizer == nil { #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected.map(String.init).joined(separator: ",")) }
        else { #expect(r.stdout.trimmingCharacters(in: .newlines) == model.tokenizer?.decode(expected)) }
    }

    @Test func errorsAreOneSentenceOnStderrWithNonZeroStatus() throws {
        let missing = try CLI.run(["predict", "--model", "/nonexistent/model", "--tokens", "1"])
        #expect(missing.status != 0 && missing.stdout.isEmpty && missing.stderr.contains("/nonexistent/model"))
        let range = try CLI.run(["predict", "--model", CLI.model("gpt2-tiny"), "--tokens", "1,9999"])
        #expect(range.status != 0 && range.stderr.contains("9999"))
        let both = try CLI.run(["predict", "--model", CLI.model("gpt2-tiny")])
        #expect(both.status != 0 && both.stderr.contains("--prompt"))
    }
}

@Suite struct TokenizeCommandTests {
    @Test func tokenizeReadsADirectoryThatHoldsOnlyTokenizerFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-only-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: URL(fileURLWithPath: CLI.model("gpt2-tiny")).appendingPathComponent(f),
                                             to: dir.appendingPathComponent(f))
        }
        let r = try CLI.run(["tokenize", "--model", dir.path, "--json", "The cat sat."])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try CLI.json(r)
        // TransformerLens's to_tokens for this prompt on the same files (reference manifest of gpt2-tiny)
        #expect((j["ids"] as? [Int]) == [499, 279, 410, 358, 13])
        #expect((j["tokens"] as? [String]) == ["<|endoftext|>", "The", " cat", " sat", "."])
        let noBOS = try CLI.json(try CLI.run(["tokenize", "--model", dir.path, "--no-bos", "--json", "The cat sat."]))
        #expect((noBOS["ids"] as? [Int]) == [279, 410, 358, 13])
    }
}
