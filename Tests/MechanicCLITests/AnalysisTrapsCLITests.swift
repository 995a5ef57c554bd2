import Foundation
import Testing
import FixtureSupport
import Mechanic
import MechanicIO
import MechanicTensor

/// Issue 10 §4 traps 4, 8, 10, 11 and 15 from the command line.
@Suite struct AnalysisTrapsCLITests {
    static let gpt2Tokenizer = CLI.fixtures.appendingPathComponent("../../../shared/data/tokenizers/gpt2").standardized.path
    static var hasGPT2Tokenizer: Bool { FileManager.default.fileExists(atPath: gpt2Tokenizer + "/vocab.json") }

    /// gpt2-tiny's weights with GPT-2's real tokenizer: `wte` widened to 50257 rows (row i is row
    /// i mod 500 of the fixture), so every GPT-2 token id runs.
    static func gpt2TinyWithRealTokenizer() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2-tiny-real-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = URL(fileURLWithPath: CLI.model("gpt2-tiny"))
        let file = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        var writer = SafeTensorsWriter()
        for name in file.tensors.keys.sorted() {
            var t = try file.tensor(name)
            if name == "transformer.wte.weight" {
                let (V, D) = (t.shape[0], t.shape[1])
                t = Tensor(shape: [50257, D], data: (0..<50257).flatMap { Array(t.data[(($0 % V) * D)..<(($0 % V + 1) * D)]) })
            }
            writer.add(name, t)
        }
        try writer.write(to: dir.appendingPathComponent("model.safetensors"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any] ?? [:]
        config["vocab_size"] = 50257
        config["bos_token_id"] = 50256
        config["eos_token_id"] = 50256
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        for name in ["vocab.json", "merges.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: gpt2Tokenizer + "/" + name, toPath: dir.appendingPathComponent(name).path)
        }
        return dir
    }

    /// Trap 4: `dataset --ioi --count 30` mixes templates of 15–20 tokens; `patch --dataset` on it
    /// runs position-free kinds, and refuses position-indexed ones in one sentence naming the lengths.
    @Test(.enabled(if: hasGPT2Tokenizer, "SKIPPED: no GPT-2 tokenizer files beside the repository"))
    func ioiDatasetIsPatchable() throws {
        let model = try Self.gpt2TinyWithRealTokenizer()
        let data = model.appendingPathComponent("ioi.jsonl")
        defer { try? FileManager.default.removeItem(at: model) }
        let made = try CLI.run(["dataset", "--model", Self.gpt2Tokenizer, "--ioi", "--count", "30", "--out", data.path])
        #expect(made.status == 0, "\(made.stderr)")
        let lengths = try String(contentsOf: data, encoding: .utf8).split(separator: "\n").map { line in
            ((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["clean_tokens"] as? [Int])?.count ?? 0
        }
        #expect(lengths.count == 30 && Set(lengths).count > 1, "\(lengths)")
        let args = ["patch", "--model", model.path, "--dataset", data.path, "--json"]
        let r = try CLI.run(args + ["--act", "attn_head_out_all_pos"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try CLI.json(r)
        let values = (json["values"] as? [[Double]] ?? []).flatMap { $0 }
        #expect(json["pairs"] as? Int == 30 && values.count == 2 * 4 && Set(values).count > 1, "\(json)")
        // The same numbers streamed two pairs at a time.
        let streamed = (try CLI.json(CLI.run(args + ["--act", "attn_head_out_all_pos", "--pair-batch", "2"]))["values"] as? [[Double]] ?? []).flatMap { $0 }
        let scale = values.map(abs).max() ?? 0
        #expect(streamed.count == values.count && zip(values, streamed).allSatisfy { abs($0 - $1) <= 1e-5 + 1e-4 * scale })
        let bad = try CLI.run(args + ["--act", "resid_pre"])
        #expect(bad.status != 0 && bad.stdout.isEmpty)
        #expect(bad.stderr.contains("resid_pre results are indexed by position") && bad.stderr.contains("attn_head_out_all_pos")
                && bad.stderr.contains("\(lengths[0]) tokens:"), "\(bad.stderr)")
        // --lengths one: every kind patches it.
        let one = model.appendingPathComponent("one.jsonl")
        #expect(try CLI.run(["dataset", "--model", Self.gpt2Tokenizer, "--ioi", "--count", "10", "--lengths", "one", "--out", one.path]).status == 0)
        let resid = try CLI.run(["patch", "--model", model.path, "--dataset", one.path, "--json", "--act", "resid_pre"])
        #expect(resid.status == 0, "\(resid.stderr)")
    }

    /// Trap 11: path patching says it noises the clean run.
    @Test func pathPatchingSaysWhatItDoes() throws {
        let r = try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--clean-tokens", "499,50,337,68,259,273,64",
                             "--corrupt-tokens", "499,50,337,68,259,474,64", "--answer-id", "65", "--wrong-id", "88",
                             "--path-receivers", "logits"])
        #expect(r.status == 0, "\(r.stderr)")
        let first = r.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.contains("corrupted outputs into the clean run (noising)") && !r.stdout.contains("clean → corrupted"), "\(first)")
        let json = try CLI.json(CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--clean-tokens", "499,50,337,68,259,273,64",
                                         "--corrupt-tokens", "499,50,337,68,259,474,64", "--answer-id", "65", "--wrong-id", "88",
                                         "--path-receivers", "logits", "--json"]))
        #expect(json["mode"] as? String == "path")
    }

    /// Trap 15: `planted:induction` is a model every command accepts.
    @Test func plantedInductionRunsInEveryCommand() throws {
        let tokens = "47,3,9,14,22,3,9"
        let lens = try CLI.run(["lens", "--model", "planted:induction", "--tokens", tokens, "--json"])
        #expect(lens.status == 0, "\(lens.stderr)")
        // The induction head copies the token after the earlier 9: 14.
        let top = try CLI.json(lens)
        #expect("\(top)".contains("14"), "\(top)")
        let patch = try CLI.run(["patch", "--model", "planted:induction", "--clean-tokens", tokens, "--corrupt-tokens", "47,3,8,14,22,3,9",
                                 "--answer-id", "14", "--wrong-id", "22", "--act", "attn_head_out_all_pos", "--json"])
        #expect(patch.status == 0, "\(patch.stderr)")
        // Patching the clean induction head L1H0 into the corrupted run restores the clean logit difference.
        let p = try CLI.json(patch)
        let grid = p["values"] as? [[Double]] ?? []
        let clean = p["clean_metric"] as? Double ?? .nan
        #expect(grid.count == 2 && abs((grid.first.map { _ in grid[1][0] } ?? .nan) - clean) <= 1e-3 * max(1, abs(clean)), "\(p)")
        let diff = try CLI.run(["diff", "--model", "planted:induction", "--a-tokens", tokens, "--b-tokens", "47,3,8,14,22,3,9", "--json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let text = try CLI.run(["lens", "--model", "planted:induction", "--prompt", "hello"])
        #expect(text.status != 0 && text.stderr.contains("has no tokenizer") && text.stderr.contains("pass token ids"), "\(text.stderr)")
        // Commands that read a model's files say the built-in model has none.
        let dataset = try CLI.run(["dataset", "--model", "planted:induction", "--ioi", "--count", "2"])
        #expect(dataset.status != 0 && dataset.stderr.contains("planted:induction is a built-in model with no files"), "\(dataset.stderr)")
        let unknown = try CLI.run(["lens", "--model", "planted:nothing", "--tokens", "1,2"])
        #expect(unknown.status != 0 && unknown.stderr.contains("'planted:nothing' is not a built-in model; built-in models are planted:induction"))
    }

    /// Trap 8: a zero difference is "no difference", not the lowest token ids.
    @Test func diffSaysNoDifference() throws {
        let args = ["diff", "--model", CLI.model("gpt2-tiny"), "--a-tokens", "499,50,337,68", "--b-tokens", "499,50,337,69", "--pos", "0"]
        let r = try CLI.run(args)
        #expect(r.status == 0, "\(r.stderr)")
        let resid = r.stdout.split(separator: "\n").filter { $0.contains("blocks.1.hook_resid_post") }
        #expect(!resid.isEmpty && resid.allSatisfy { $0.hasSuffix("no difference") }, "\(resid)")
        let json = try CLI.json(CLI.run(args + ["--json"]))
        let layers = json["by_layer"] as? [[String: Any]] ?? []
        #expect(!layers.isEmpty && layers.allSatisfy { $0["no_difference"] as? Bool == true && ($0["up"] as? [Any])?.isEmpty == true })
    }

    /// Trap 10: `--exact-all` patches every component exactly; Pearson r in JSON and text.
    @Test func attributionChecksEveryComponentWithTheCorrelation() throws {
        let base = ["patch", "--model", CLI.model("gpt2-tiny"), "--clean-tokens", "499,50,337,68,259,273,64",
                    "--corrupt-tokens", "499,50,337,68,259,474,64", "--answer-id", "65", "--wrong-id", "88",
                    "--act", "attn_head_out_all_pos", "--attribution", "atp", "--exact-all"]
        let json = try CLI.json(CLI.run(base + ["--json"]))
        let checks = json["checks"] as? [[String: Any]] ?? []
        #expect(checks.count == 8)
        let est = checks.map { $0["estimate"] as? Double ?? .nan }, exact = checks.map { $0["exact"] as? Double ?? .nan }
        let n = Double(est.count), me = est.reduce(0, +) / n, mx = exact.reduce(0, +) / n
        let sxy = zip(est, exact).map { ($0 - me) * ($1 - mx) }.reduce(0, +)
        let r = sxy / (est.map { ($0 - me) * ($0 - me) }.reduce(0, +) * exact.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)).squareRoot()
        let got = json["exact_correlation"] as? Double ?? .nan
        #expect(abs(got - r) < 1e-9, "r \(got) vs \(r)")
        let text = try CLI.run(base)
        #expect(text.stdout.contains("every component, patched exactly") && text.stdout.contains(String(format: "Pearson r (estimate, exact): %.4f", r)))
        let bad = try CLI.run(["patch", "--model", CLI.model("gpt2-tiny"), "--clean-tokens", "1,2", "--corrupt-tokens", "1,3",
                               "--answer-id", "4", "--wrong-id", "5", "--act", "resid_pre", "--exact-all"])
        #expect(bad.status != 0 && bad.stderr.contains("--exact-all checks attribution estimates"))
    }
}
