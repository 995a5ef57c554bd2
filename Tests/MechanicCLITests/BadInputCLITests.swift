import Foundation
import Testing
@testable import Mechanic

/// Issue 10: integer bounds of every option, negative values in the documented `--pos -1` form,
/// and the traps a new user hit — each a one-sentence error (or the right result).
@Suite struct BadInputCLITests {
    let gpt2 = CLI.model("gpt2-tiny")

    /// Runs and returns (status, stderr's last line) for an expected failure.
    func fails(_ args: [String]) throws -> String {
        let r = try CLI.run(args)
        #expect(r.status != 0, "expected a failure: \(args.joined(separator: " ")) printed \(r.stdout)")
        #expect(!r.stderr.contains("Missing value"), "\(r.stderr)")
        return r.stderr
    }

    func temp(_ name: String, _ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func negativePositionsParseInTheDocumentedForm() throws {
        let lens = try CLI.run(["lens", "--model", gpt2, "--tokens", "499,279,410,358", "--pos", "-1", "--json"])
        #expect(lens.status == 0, "\(lens.stderr)")
        #expect(try CLI.json(lens)["position"] as? Int == 3)
        let lens2 = try CLI.run(["lens", "--model", gpt2, "--tokens", "499,279,410,358", "--pos", "-2", "--json"])
        #expect(try CLI.json(lens2)["position"] as? Int == 2)
        let diff = try CLI.run(["diff", "--model", gpt2, "--a-tokens", "499,279,410", "--b-tokens", "499,279,358", "--pos", "-2", "--json"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let attribute = try CLI.run(["attribute", "--model", gpt2, "--tokens", "499,279,410", "--answer-id", "5", "--pos", "-1", "--json"])
        #expect(attribute.status == 0, "\(attribute.stderr)")
    }

    @Test func negativeLookingValuesOfTextOptionsReachTheirChecks() throws {
        let pattern = try fails(["heads", "--model", gpt2, "--prompt", "The cat sat", "--pattern", "-1:0"])
        #expect(pattern.contains("head L-1H0 does not exist"), "\(pattern)")
        let neuron = try fails(["neurons", "--model", gpt2, "--neuron", "-1:5", "--corpus", "/dev/null"])
        #expect(neuron.contains("--neuron -1:5: expected LAYER:INDEX with both ≥ 0"), "\(neuron)")
        let tokens = try fails(["predict", "--model", gpt2, "--tokens", "-5,2"])
        #expect(tokens.contains("token id -5 is outside the vocabulary"), "\(tokens)")
    }

    @Test func datasetCountsAreBoundedAndNeverOverflow() throws {
        #expect(try fails(["dataset", "--model", gpt2, "--ioi", "--count", "9223372036854775807"])
            .contains("--count must be at most 1000000 (every pair is kept in memory), found 9223372036854775807"))
        #expect(try fails(["dataset", "--model", gpt2, "--ioi", "--count", "1", "--max-attempts", "100000000000"])
            .contains("--max-attempts must be at most 100000000"))
    }

    @Test func negativeTemperatureIsAnErrorNotAMissingValue() throws {
        let e = try fails(["generate", "--model", gpt2, "--tokens", "499,279", "--temperature", "-1"])
        #expect(e.contains("--temperature must be a finite number ≥ 0 (0 is greedy), found -1.0"), "\(e)")
    }

    @Test func topCountsMustBePositive() throws {
        for command in [["predict"], ["lens"], ["attribute", "--answer-id", "5"]] {
            let zero = try fails(command + ["--model", gpt2, "--tokens", "499,279", "--top", "0"])
            #expect(zero.contains("--top must be at least 1, found 0"), "\(command): \(zero)")
            let negative = try fails(command + ["--model", gpt2, "--tokens", "499,279", "--top=-1"])
            #expect(negative.contains("--top must be at least 1, found -1"), "\(command): \(negative)")
        }
        let spaced = try fails(["predict", "--model", gpt2, "--tokens", "499,279", "--top", "-3"])
        #expect(spaced.contains("--top must be at least 1, found -3"), "\(spaced)")
        #expect(try fails(["diff", "--model", gpt2, "--a-tokens", "499,279", "--b-tokens", "499,358", "--top", "0"])
            .contains("--top must be at least 1, found 0"))
        #expect(try fails(["generate", "--model", gpt2, "--tokens", "499,279", "--top-k", "0"]).contains("--top-k must be at least 1, found 0"))
        #expect(try fails(["dataset", "--model", gpt2, "--ioi", "--count", "0"]).contains("--count must be at least 1, found 0"))
        #expect(try fails(["congruence", "--model", gpt2, "--bins", "0"]).contains("--bins must be at least 1, found 0"))
        #expect(try fails(["demo", "--seq-len", "-5"]).contains("--seq-len must be at least 1, found -5"))
    }

    @Test func parserErrorsAreOneLineWithoutTheUsage() throws {
        for args in [["generate", "--model", gpt2, "--tokens", "1", "--seed", "-1"],
                     ["patch", "--model", gpt2, "--clean-tokens", "1,2", "--corrupt-tokens", "1,3", "--answer-id", "1", "--wrong-id", "2",
                      "--act", "resid_pre", "--pair-batch", "0"],
                     ["predict", "--tokens", "1"]] {
            let e = try fails(args)
            #expect(e.hasPrefix("Error: ") && e.split(separator: "\n").count == 1 && !e.contains("Usage:"), "\(e)")
        }
        #expect(try fails(["patch", "--model", gpt2, "--clean-tokens", "1,2", "--corrupt-tokens", "1,3", "--answer-id", "1", "--wrong-id", "2",
                           "--act", "resid_pre", "--pair-batch", "0"]) == "Error: --pair-batch 0: give at least 1 pair per batch\n")
        let help = try CLI.run(["patch", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: mechanic patch"))
    }

    @Test func anEmptyTokenListElementIsNamedByPosition() throws {
        let e = try fails(["predict", "--model", gpt2, "--tokens", "1,,2"])
        #expect(e.contains("--tokens '1,,2': element 2 is empty"), "\(e)")
        #expect(try fails(["predict", "--model", gpt2, "--tokens", "1,2,"]).contains("element 3 is empty"))
        let ok = try CLI.run(["predict", "--model", gpt2, "--tokens", "499, 279", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try CLI.json(ok)["tokens"] as? [Int] == [499, 279])
    }

    @Test func hugeCountsAreRefusedBeforeAnyWork() throws {
        let gen = try fails(["generate", "--model", gpt2, "--tokens", "499,279", "--max-new-tokens", "9223372036854775807"])
        #expect(gen.contains("the prompt's 2 tokens plus 9223372036854775807 new tokens exceed the model's context (n_ctx) of 64; ask for at most 62 new tokens"), "\(gen)")
        let heads = try fails(["heads", "--model", gpt2, "--induction", "--batch", "1000000000"])
        #expect(heads.contains("--batch and --seq-len ask for 1000000000 × 101 token positions in one forward"), "\(heads)")
        let neurons = try fails(["neurons", "--model", gpt2, "--neuron", "0:1", "--corpus", "/dev/null", "--batch", "4611686018427387904"])
        #expect(neurons.contains("more than the 65536 this command allows"), "\(neurons)")
        #expect(try fails(["neurons", "--model", gpt2, "--neuron", "0:1", "--corpus", "/dev/null", "--top", "1000000000000"])
            .contains("--top must be at most 1000000 (the examples are kept in memory with their context), found 1000000000000"))
        #expect(try fails(["congruence", "--model", gpt2, "--bins", "1000000000000"]).contains("--bins must be at most 100000"))
    }

    @Test func cacheNamesMatchingNothingIsAnErrorWithASuggestion() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString).safetensors")
        let e = try fails(["cache", "--model", gpt2, "--tokens", "499,279", "--names", "hook_resid_pots", "--out", out.path])
        #expect(e.contains("the names pattern 'hook_resid_pots' matches no hook point of this model (did you mean"), "\(e)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func cacheNamesSwitchesOptionalPointsOnAndIsARegex() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString).safetensors")
        let r = try CLI.run(["cache", "--model", gpt2, "--tokens", "499,279", "--names", "hook_q_input", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Set(try SafeTensorsFile(url: out).names) == ["blocks.0.hook_q_input", "blocks.1.hook_q_input", "logits", "tokens"])
        let model = try HookedTransformer.load(URL(fileURLWithPath: gpt2))
        let (_, cache) = try model.runWithCache(TokenBatch([499, 279]), names: .names(["blocks.1.hook_q_input"]))
        #expect(try SafeTensorsFile(url: out).tensor("blocks.1.hook_q_input").data == cache["blocks.1.hook_q_input"]?.data)
        let re = try CLI.run(["cache", "--model", gpt2, "--tokens", "499,279", "--names", "hook_(attn|mlp)_out$", "--out", out.path])
        #expect(re.status == 0, "\(re.stderr)")
        #expect(Set(try SafeTensorsFile(url: out).names) == ["blocks.0.hook_attn_out", "blocks.1.hook_attn_out", "blocks.0.hook_mlp_out",
                                                             "blocks.1.hook_mlp_out", "logits", "tokens"])
    }

    @Test func aDatasetThatKeepsNoPairFailsWithTheReason() throws {
        let input = try temp("pairs.jsonl", #"{"clean": "The cat sat", "corrupt": "The dog sat", "answer": " on", "wrong": " on"}"# + "\n")
        let e = try fails(["dataset", "--model", gpt2, "--input", input.path])
        #expect(e.contains("no pair was kept: all 1 candidate pairs were dropped (1 "), "\(e)")
    }

    @Test func identicalAnswerAndWrongTokensAreRefused() throws {
        let e = try fails(["patch", "--model", gpt2, "--clean-tokens", "499,279,410", "--corrupt-tokens", "499,279,358",
                           "--answer-id", "5", "--wrong-id", "5", "--act", "resid_pre"])
        #expect(e.contains("the answer and the wrong token are the same token (id 5), so logit[answer] − logit[wrong] is always 0"), "\(e)")
    }

    @Test func lossAblationNeedsNoWrongTokenAndPrintsNoCorruptedValue() throws {
        let args = ["patch", "--model", gpt2, "--clean-tokens", "499,279,410", "--answer-id", "5", "--act", "resid_pre",
                    "--ablate", "zero", "--metric", "loss"]
        let json = try CLI.run(args + ["--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let j = try CLI.json(json)
        #expect(j["clean_metric"] is Double && j["corrupt_metric"] == nil && j["clean_logit_diff"] == nil && j["corrupt_logit_diff"] == nil)
        let text = try CLI.run(args)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("clean (unablated)") && !text.stdout.contains("corrupted"), "\(text.stdout)")
    }

    @Test func anEmptyAnswerIsAnErrorEverywhere() throws {
        for args in [["predict", "--tokens", "499,279", "--answer", ""], ["lens", "--tokens", "499,279", "--answer", ""],
                     ["attribute", "--tokens", "499,279", "--answer", ""],
                     ["patch", "--clean-tokens", "499,279", "--corrupt-tokens", "499,358", "--answer", "", "--wrong-id", "5", "--act", "resid_pre"]] {
            let e = try fails(args + ["--model", gpt2])
            #expect(e.contains("empty input") && e.contains("empty string"), "\(args[0]): \(e)")
        }
    }

    @Test func aShortPerLayerHookNameAsksForLayer() throws {
        let corpus = try temp("corpus.txt", "The cat sat on the mat.\n")
        let e = try fails(["neurons", "--model", gpt2, "--hook", "resid_post", "--index", "0", "--corpus", corpus.path])
        #expect(e.contains("--hook resid_post names a hook point of every layer; give --layer, e.g. --layer 0"), "\(e)")
        let ok = try CLI.run(["neurons", "--model", gpt2, "--hook", "resid_post", "--layer", "1", "--index", "0", "--corpus", corpus.path, "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try CLI.json(ok)["hook"] as? String == "blocks.1.hook_resid_post")
    }
}
