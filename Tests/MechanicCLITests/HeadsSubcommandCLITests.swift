import Foundation
import Testing

/// `mechanic heads <analysis>` prints exactly what the older flag form prints, and heads are
/// spelled one way (`L9H6`, `9.6`, `9:6`) everywhere.
@Suite struct HeadsSubcommandCLITests {
    static let model = CLI.model("gpt2-tiny")
    static let ioi = "When John and Mary went to the store, John gave a drink to"

    static let pairs: [(new: [String], old: [String])] = [
        (["detect", "duplicate_token", "--tokens", "499,50,337,68,50,337,68", "--heads", "L0H1,1.2"],
         ["--tokens", "499,50,337,68,50,337,68", "--detect", "duplicate_token", "--heads", "0:1,1:2"]),
        (["induction", "--seq-len", "6", "--batch", "2"], ["--induction", "--seq-len", "6", "--batch", "2"]),
        (["pattern", "L1H2", "--prompt", "The cat sat"], ["--prompt", "The cat sat", "--pattern", "1:2"]),
        (["pattern", "1.2", "--prompt", "The cat sat"], ["--prompt", "The cat sat", "--pattern", "1:2"]),
        (["copy-scores", "--top-k", "3", "--heads", "l0h0"], ["--copy-scores", "--top-k", "3", "--heads", "0:0"]),
        (["composition", "K"], ["--composition", "K"]),
        (["name-movers", "--prompt", ioi, "--answer", " Mary", "--wrong", " John"],
         ["--prompt", ioi, "--name-movers", "--answer", " Mary", "--wrong", " John"]),
    ]

    @Test(arguments: 0..<pairs.count)
    func subcommandPrintsWhatTheFlagFormPrints(_ i: Int) throws {
        let (new, old) = Self.pairs[i]
        for json in [["--json"], []] {
            let a = try CLI.run(["heads"] + new + ["--model", Self.model] + json)
            let b = try CLI.run(["heads", "--model", Self.model] + old + json)
            #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
            #expect(!a.stdout.isEmpty && a.stdout == b.stdout, "\(new)")
        }
    }

    @Test func mappingSubcommandPrintsWhatCopyScoresMappingPrints() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("heads-mapping-\(getpid()).json")
        try Data(#"[[" cat", " dog"], [" the", " a"]]"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let a = try CLI.run(["heads", "mapping", file.path, "--model", Self.model, "--json"])
        let b = try CLI.run(["heads", "--model", Self.model, "--copy-scores", "--mapping", file.path, "--json"])
        #expect(a.status == 0 && a.stdout == b.stdout, "\(a.stderr)")
        let heads = try #require(try CLI.json(a)["heads"] as? [[String: Any]])
        let k = try CLI.json(a)["k"] as? Int
        #expect(heads.count == 8 && k == 5)
    }

    @Test func badValuesAreOneSentenceErrors() throws {
        let kind = try CLI.run(["heads", "detect", "sideways", "--model", Self.model, "--tokens", "1,2,3"])
        #expect(kind.status != 0 && kind.stderr.contains("previous_token"), "\(kind.stderr)")
        let head = try CLI.run(["heads", "copy-scores", "--model", Self.model, "--heads", "L0X1"])
        #expect(head.status != 0 && head.stderr.contains("--heads: 'L0X1' is not a head"), "\(head.stderr)")
        let none = try CLI.run(["heads", "--model", Self.model])
        #expect(none.status != 0 && none.stderr.contains("heads detect|induction|pattern"), "\(none.stderr)")
        let prompt = try CLI.run(["heads", "pattern", "L0H0", "--model", Self.model])
        #expect(prompt.status != 0 && prompt.stderr.contains("needs --prompt or --tokens"), "\(prompt.stderr)")
    }
}
