import Foundation
import Testing
import FixtureSupport

/// `--tokenizer PATH` for checkpoints without tokenizer files, the d_vocab check, Llama's "▁"
/// in text output and predict's ids.
@Suite struct TokenizerOptionCLITests {
    @Test func predictOnACheckpointWithoutTokenizerFiles() throws {
        let dir = try TestFixtures.bareModel("llama-tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let none = try CLI.run(["predict", "--model", dir.path, "--prompt", "The cat"])
        #expect(none.status != 0 && none.stdout.isEmpty && none.stderr.split(separator: "\n").count == 1, "\(none.stderr)")
        let with = try CLI.run(["predict", "--model", dir.path, "--tokenizer", CLI.model("llama-tiny"), "--prompt", "The cat", "--top", "3"])
        let reference = try CLI.run(["predict", "--model", CLI.model("llama-tiny"), "--prompt", "The cat", "--top", "3"])
        #expect(with.status == 0, "\(with.stderr)")
        #expect(with.stdout == reference.stdout)
        // Text output: ids beside the pieces, and Llama's pieces with their ▁.
        #expect(with.stdout.contains("\"<s>\"(1)") && with.stdout.contains("\"▁"), "\(with.stdout)")
        let lines = with.stdout.split(separator: "\n").dropFirst()
        #expect(lines.count == 3 && lines.allSatisfy { $0.contains(" id ") }, "\(with.stdout)")
    }

    @Test func aTokenizerThatDoesNotFitIsOneSentenceNamingBothFiles() throws {
        let dir = try TestFixtures.bareModel("gpt2-tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenizer = URL(fileURLWithPath: CLI.model("llama-tiny")).appendingPathComponent("tokenizer.json").path
        let r = try CLI.run(["predict", "--model", dir.path, "--tokenizer", tokenizer, "--prompt", "The cat"])
        #expect(r.status != 0 && r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(tokenizer)
                && r.stderr.contains(dir.appendingPathComponent("config.json").path) && r.stderr.contains("d_vocab = 500"), "\(r.stderr)")
    }

    @Test func tokenizeTakesATokenizerFileWithoutAModel() throws {
        let json = URL(fileURLWithPath: CLI.model("gpt2-tiny")).appendingPathComponent("tokenizer.json").path
        let r = try CLI.run(["tokenize", "--tokenizer", json, "--json", "The cat sat."])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try CLI.json(r)["ids"] as? [Int]) == [499, 279, 410, 358, 13])
        let neither = try CLI.run(["tokenize", "The cat sat."])
        #expect(neither.status != 0 && neither.stderr.contains("--tokenizer"))
        guard let llama2 = TestFixtures.sharedTokenizer("llama2") else { return }
        let sp = try CLI.run(["tokenize", "--tokenizer", llama2.appendingPathComponent("tokenizer.model").path, "--json", "The mouse is short"])
        #expect(sp.status == 0, "\(sp.stderr)")
        let j = try CLI.json(sp)
        #expect((j["ids"] as? [Int]) == [1, 450, 9495, 338, 3273])
        #expect((j["tokens"] as? [String]) == ["<s>", "▁The", "▁mouse", "▁is", "▁short"])
    }

    /// Trap 2 end to end: the prompt's trailing "▁" is not scored before "▁mat", and the warnings say so.
    @Test func predictAnswerAfterATrailingSpaceOnLlama() throws {
        let r = try CLI.run(["predict", "--model", CLI.model("llama-tiny"), "--prompt", "The cat sat on the ", "--answer", "mat", "--top", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("no space is prepended") && r.stderr.contains("scoring \"▁mat\" after the prompt without it"), "\(r.stderr)")
        #expect(r.stdout.contains("Tokenized prompt: [\"<s>\", \"▁The\", \"▁cat\", \"▁sat\", \"▁on\", \"▁the\"]"), "\(r.stdout)")
        #expect(r.stdout.contains("Tokenized answer: [\"▁mat\"]") && r.stdout.contains("(id 477)"), "\(r.stdout)")
    }

    @Test func datasetTakesATokenizerFile() throws {
        guard let gpt2 = TestFixtures.sharedTokenizer("gpt2") else { return }
        let r = try CLI.run(["dataset", "--tokenizer", gpt2.path, "--ioi", "--count", "3", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("{\"") && $0.contains("clean") }
        #expect(lines.count == 3, "\(r.stdout)")
    }
}
