import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
import MechanicAnalysis

/// `mechanic serve` on loopback: every `POST /api/<command>` answers exactly what
/// `mechanic <command> … --json` prints for the same options.
@Suite(.serialized) struct ServeAPITests {
    static let gpt2 = CLI.model("gpt2-tiny")

    /// A small corpus for `neurons`.
    static func corpus() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-serve-corpus-\(getpid()).txt")
        try "The cat sat on the mat.\nA dog ran in the park.\nThe cat and the dog were friends.\n".write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// (command, request body, the same options on the command line).
    static func cases(corpus: String) -> [(String, String, [String])] {
        [
            ("predict", #"{"prompt": "The cat sat", "top": 3}"#, ["--prompt", "The cat sat", "--top", "3"]),
            ("predict", #"{"prompt": "The cat", "answer": " sat on", "top": 2}"#, ["--prompt", "The cat", "--answer", " sat on", "--top", "2"]),
            ("tokenize", #"{"text": "-The cat sat", "no-bos": true}"#, ["--no-bos", "--", "-The cat sat"]),
            ("lens", #"{"tokens": [499, 279, 410], "pos": -2, "top": 3, "answer-id": 5, "mode": "final"}"#,
             ["--tokens", "499,279,410", "--pos", "-2", "--top", "3", "--answer-id", "5", "--mode", "final"]),
            ("attribute", #"{"prompt": "The cat", "answer-id": 5, "wrong-id": 7, "by": "layer"}"#,
             ["--prompt", "The cat", "--answer-id", "5", "--wrong-id", "7", "--by", "layer"]),
            ("attribute", #"{"prompt": "The cat", "answer-id": 5, "by": "head", "top": 4}"#, ["--prompt", "The cat", "--answer-id", "5", "--by", "head", "--top", "4"]),
            ("diff", #"{"prompts": ["The cat sat", "The dog sat"], "top": 3, "verify": 2, "answer-id": 5, "wrong-id": 6}"#,
             ["--top", "3", "--verify", "2", "--answer-id", "5", "--wrong-id", "6", "The cat sat", "The dog sat"]),
            ("diff", #"{"a": [" cat", " dog"], "b": [" car", " bus"]}"#, ["--a", " cat", "--a", " dog", "--b", " car", "--b", " bus"]),
            ("patch", #"{"clean-tokens": "1,5,9,3,7", "corrupt-tokens": "1,5,8,3,7", "answer-id": 4, "wrong-id": 6, "act": "resid_pre"}"#,
             ["--clean-tokens", "1,5,9,3,7", "--corrupt-tokens", "1,5,8,3,7", "--answer-id", "4", "--wrong-id", "6", "--act", "resid_pre"]),
            ("patch", #"{"clean-tokens": [1, 5, 9, 3, 7], "answer-id": 4, "metric": "prob", "act": "attn_head_out_all_pos", "ablate": "mean"}"#,
             ["--clean-tokens", "1,5,9,3,7", "--answer-id", "4", "--metric", "prob", "--act", "attn_head_out_all_pos", "--ablate", "mean"]),
            ("patch", #"{"clean": "The cat sat", "corrupt": "The dog sat", "answer-id": 4, "wrong-id": 6, "path-receivers": "L1H0:q,L1H1:k", "path-senders": "L0H1"}"#,
             ["--clean", "The cat sat", "--corrupt", "The dog sat", "--answer-id", "4", "--wrong-id", "6", "--path-receivers", "L1H0:q,L1H1:k", "--path-senders", "L0H1"]),
            ("patch", #"{"clean-tokens": "1,5,9,3,7", "corrupt-tokens": "1,5,8,3,7", "answer-id": 4, "wrong-id": 6, "act": "resid_pre", "attribution": "atp", "top-k": 3}"#,
             ["--clean-tokens", "1,5,9,3,7", "--corrupt-tokens", "1,5,8,3,7", "--answer-id", "4", "--wrong-id", "6", "--act", "resid_pre", "--attribution", "atp", "--top-k", "3"]),
            ("heads", #"{"prompt": "The cat sat on", "pattern": "L1H2"}"#, ["--prompt", "The cat sat on", "--pattern", "L1H2"]),
            ("heads", #"{"prompt": "The cat sat on the cat", "detect": "previous_token", "exclude-bos": true}"#,
             ["--prompt", "The cat sat on the cat", "--detect", "previous_token", "--exclude-bos"]),
            ("heads", #"{"induction": true, "seq-len": 6, "batch": 2}"#, ["--induction", "--seq-len", "6", "--batch", "2"]),
            ("heads", #"{"copy-scores": true}"#, ["--copy-scores"]),
            ("heads", #"{"composition": "K"}"#, ["--composition", "K"]),
            ("neurons", #"{"neuron": "0:3", "corpus": "\#(corpus)", "top": 3}"#, ["--neuron", "0:3", "--corpus", corpus, "--top", "3"]),
            ("congruence", #"{"sample": 20, "bins": 5, "seed": 3}"#, ["--sample", "20", "--bins", "5", "--seed", "3"]),
            ("circuit", #"{"clean-tokens": "1,5,9,3,7", "corrupt-tokens": "1,5,8,3,7", "answer-id": 4, "wrong-id": 6, "top-n": 5}"#,
             ["--clean-tokens", "1,5,9,3,7", "--corrupt-tokens", "1,5,8,3,7", "--answer-id", "4", "--wrong-id", "6", "--top-n", "5"]),
            ("circuit", #"{"clean-tokens": "1,5,9,3,7", "corrupt-tokens": "1,5,8,3,7", "answer-id": 4, "wrong-id": 6, "method": "acdc", "threshold": 0.05, "evaluate": true}"#,
             ["--clean-tokens", "1,5,9,3,7", "--corrupt-tokens", "1,5,8,3,7", "--answer-id", "4", "--wrong-id", "6", "--method", "acdc", "--threshold", "0.05", "--evaluate"]),
        ]
    }

    @Test func everyCommandAnswersExactlyItsJSONOutput() throws {
        let server = try ServeProcess(["--model", Self.gpt2])
        let corpus = try Self.corpus()
        var commands: Set<String> = []
        for (command, body, args) in Self.cases(corpus: corpus) {
            let reply = try server.post("/api/\(command)", body)
            let cli = try CLI.run([command, "--model", Self.gpt2, "--json"] + args)
            #expect(cli.status == 0, "\(command) \(args): \(cli.stderr)")
            #expect(reply.status == 200, "\(command) \(body): \(reply.text)")
            #expect(reply.headers["content-type"]?.hasPrefix("application/json") == true)
            #expect(reply.text == cli.stdout.trimmingCharacters(in: .newlines), "\(command) \(body)")
            #expect(reply.text.count > 20, "\(command): \(reply.text)")
            commands.insert(command)
        }
        #expect(commands == ["predict", "tokenize", "lens", "attribute", "diff", "patch", "heads", "neurons", "congruence", "circuit"])
    }

    /// `POST /api/head` (the head page's overview, no command-line twin) is the library's
    /// `HeadOverview` as `ResultJSON` writes it: mean ablation over the prompt, or over the
    /// corpus when given, and the user's mapping score.
    @Test func headAPIAnswersTheLibrarysHeadOverview() throws {
        let server = try ServeProcess(["--model", Self.gpt2])
        let m = try TestFixtures.load("gpt2-tiny")
        let tokens = try m.toTokens("The cat sat on the mat")
        let corpus = try Self.corpus()
        let mapping = try TokenMapping.parse(text: #"" cat":" dog", " sat":" mat""#, resolve: m.toSingleToken)
        #expect(mapping.pairs.map { [$0.source, $0.target] } == [[410, 362], [358, 403]])
        var reader = try CorpusReader(url: URL(fileURLWithPath: corpus))
        let runs = try HeadOverview.meanRuns(corpus: &reader, model: m)
        #expect(runs.count == 3)
        for (body, meanCorpus) in [(#"{"layer": 1, "head": 2, "prompt": "The cat sat on the mat", "mapping": "\" cat\":\" dog\", \" sat\":\" mat\"", "mapping-k": 10}"#, nil),
                                   (#"{"layer": 1, "head": 2, "tokens": [\#(tokens.map(String.init).joined(separator: ","))], "mapping": "\" cat\":\" dog\", \" sat\":\" mat\"", "mapping-k": 10, "corpus": "\#(corpus)"}"#, runs)] {
            let reply = try server.post("/api/head", body)
            let want = try HeadOverview.run(model: m, layer: 1, head: 2, tokens: tokens, sources: nil, mapping: mapping, mappingK: 10, meanCorpus: meanCorpus)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.text == (try ResultJSON.string(want, keys: .snakeCase)), "\(body)")
            let prompt = reply.json["prompt"] as? [String: Any] ?? [:]
            #expect(prompt["mean_over"] as? String == (meanCorpus == nil ? "prompt" : "corpus"))
            #expect((reply.json["mapping"] as? [String: Any])?["k"] as? Int == 10)
        }
        let bad = try server.post("/api/head", #"{"layer": 1, "head": 2, "mapping": "cat"}"#)
        #expect(bad.status == 400 && bad.text.contains("source:target"), "\(bad.text)")
    }

    @Test func parityOnAnotherArchitecture() throws {
        let pythia = CLI.model("pythia-tiny")
        let server = try ServeProcess(["--model", pythia])
        for (command, body, args) in [("lens", #"{"prompt": "Hello world", "top": 2}"#, ["--prompt", "Hello world", "--top", "2"]),
                                      ("attribute", #"{"prompt": "Hello world", "answer-id": 3, "by": "component"}"#,
                                       ["--prompt", "Hello world", "--answer-id", "3", "--by", "component"])] {
            let reply = try server.post("/api/\(command)", body)
            let cli = try CLI.run([command, "--model", pythia, "--json"] + args)
            #expect(reply.status == 200 && reply.text == cli.stdout.trimmingCharacters(in: .newlines), "\(command): \(reply.text)")
        }
    }

    @Test func badRequestsGetOneSentenceErrorsAndTheServerKeepsAnswering() throws {
        let server = try ServeProcess(["--model", Self.gpt2])
        func expectError(_ reply: HTTPReply, _ status: Int, containing part: String, _ what: String) {
            #expect(reply.status == status, "\(what): \(reply.status) \(reply.text)")
            let message = reply.json["error"] as? String ?? ""
            #expect(reply.json.count == 1 && message.contains(part), "\(what): \(reply.text)")
            #expect(!message.contains("\n") && !message.contains("Usage"), "\(what): \(message)")
        }
        expectError(try server.post("/api/predict", #"{"prompt": "The cat"#), 400, containing: "not JSON", "malformed JSON")
        expectError(try server.post("/api/predict", #"["The cat"]"#), 400, containing: "JSON object", "not an object")
        expectError(try server.post("/api/predict", #"{"prompt": "The cat", "top": "many"}"#), 400, containing: "'many' is invalid for '--top", "wrong type")
        expectError(try server.post("/api/predict", #"{"prompt": "The cat", "top": {"n": 1}}"#), 400, containing: "'top' must be", "object value")
        expectError(try server.post("/api/predict", #"{"prompt": "The cat", "no-bos": "yes"}"#), 400, containing: "no-bos", "flag with a value")
        expectError(try server.post("/api/heads", #"{"prompt": "The cat", "pattern": "L9H0"}"#), 400, containing: "head L9H0 does not exist", "layer out of range")
        expectError(try server.post("/api/heads", #"{"prompt": "The cat", "pattern": "L1H7"}"#), 400, containing: "head L1H7 does not exist", "head out of range")
        expectError(try server.post("/api/lens", #"{"tokens": "1,99999"}"#), 400, containing: "99999", "token out of range")
        expectError(try server.post("/api/predict", #"{"prompt": "x", "model": "gpt2"}"#), 400, containing: "'model' cannot be given", "model option")
        expectError(try server.post("/api/predict", #"{"prompt": "x", "html": "/tmp/x.html"}"#), 400, containing: "'html' cannot be given", "html option")
        expectError(try server.post("/api/predict", #"{"prompt": "x", "bogus": 1}"#), 400, containing: "bogus", "unknown option")
        expectError(try server.post("/api/predict", data: Data(repeating: UInt8(ascii: "a"), count: 2 << 20)), 413, containing: "over 1 MiB", "2 MiB body")
        expectError(try server.post("/api/nothing", "{}"), 404, containing: "no API command 'nothing'", "unknown command")
        expectError(try server.get("/no/such/page"), 404, containing: "no such page", "unknown page")
        // Still answering, with the right numbers.
        let after = try server.post("/api/predict", #"{"prompt": "The cat sat", "top": 3}"#)
        let cli = try CLI.run(["predict", "--model", Self.gpt2, "--prompt", "The cat sat", "--top", "3", "--json"])
        #expect(after.status == 200 && after.text == cli.stdout.trimmingCharacters(in: .newlines))
    }

    @Test func anotherHostThanLoopbackNeedsTheFlagAndSaysThereIsNoAuthentication() throws {
        let server = try ServeProcess(["--model", Self.gpt2, "--host", "0.0.0.0"], captureErrors: true)
        #expect(try server.post("/api/tokenize", #"{"text": "The"}"#).status == 200)
        server.stop()
        let stderr = String(decoding: server.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(stderr.contains("serving on 0.0.0.0") && stderr.contains("no authentication"), "\(stderr)")
        // Loopback by default, and no warning.
        let local = try ServeProcess(["--model", Self.gpt2], captureErrors: true)
        local.stop()
        let quiet = String(decoding: local.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!quiet.contains("authentication"), "\(quiet)")
        // A bad port is one sentence.
        let bad = try CLI.run(["serve", "--port", "70000"])
        #expect(bad.status != 0 && bad.stderr.contains("--port 70000"), "\(bad.stderr)")
    }
}
