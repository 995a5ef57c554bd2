import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

/// The `--json` object, dataset files and patch selections.
@Suite struct PatchingOutputTests {
    @Test func jsonObjectHasTheMachineInterfaceKeys() throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        let run = try PatchingRun(model: model, pairs: [try PatchingFixtures.pair("gpt2-tiny")])
        let r = try run.run(.attnHeadOutByPos)
        let j = try r.jsonObject()
        #expect(j["act"] as? String == "attn_head_out_by_pos")
        #expect(j["shape"] as? [Int] == [2, 10, 4])
        #expect(j["axes"] as? [String] == ["layer", "pos", "head"])
        #expect(j["metric"] as? String == "logit_diff")
        #expect(j["clean_metric"] as? Double == run.cleanMetric)
        #expect(j["corrupt_metric"] as? Double == run.corruptMetric)
        let values = try #require(j["values"] as? [[[Double]]])
        for l in 0..<2 { for p in 0..<10 { for h in 0..<4 { #expect(values[l][p][h] == Double(r.values[l, p, h])) } } }
        // Serialisable as JSON, and a rank-0 result is a plain number.
        _ = try JSONSerialization.data(withJSONObject: j)
        let path = try run.pathPatchResult(senders: [HeadIndex(layer: 0, head: 1)], receivers: [.logits])
        #expect(try path.jsonObject()["values"] as? Double == Double(path.values.data[0]))
        #expect(path.shape == [])
        var bad = r
        bad.values.data[3] = .nan
        #expect(throws: MechanicError.self) { try bad.jsonObject() }
    }

    @Test func datasetFileOfPairs() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("patching-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let vocab = ["a": 1, "b": 2, "c": 3, " x": 7, " y": 8]
        let tokenize: (String) throws -> [Int] = { text in text.split(separator: " ").map { vocab[String($0)] ?? 0 } }
        let single: (String) throws -> Int = { text in
            guard let id = vocab[text] else { throw MechanicError.notSingleToken(text: text, pieces: [text]) }
            return id
        }
        try """
        {"clean": "a b c", "corrupt": "a c c", "answer": " x", "wrong": " y"}

        {"clean": [1, 2, 3], "corrupt": [3, 2, 1], "answer": 7, "wrong": 8}
        """.write(to: url, atomically: true, encoding: .utf8)
        let pairs = try PatchingDataset.load(url, tokenize: tokenize, singleToken: single)
        #expect(pairs == [PatchingPair(clean: [1, 2, 3], corrupt: [1, 3, 3], answer: 7, wrong: 8),
                          PatchingPair(clean: [1, 2, 3], corrupt: [3, 2, 1], answer: 7, wrong: 8)])
        try #"{"clean": [1, 2, 3], "corrupt": [3, 2], "answer": 7, "wrong": 8}"#.write(to: url, atomically: true, encoding: .utf8)
        do {
            _ = try PatchingDataset.load(url, tokenize: tokenize, singleToken: single)
            Issue.record("expected an error")
        } catch let e as MechanicError {
            #expect(e.description.contains("pair 1") && e.description.contains("3 tokens") && e.description.contains("has 2"), "\(e)")
        }
        try "not json".write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: MechanicError.self) { try PatchingDataset.load(url, tokenize: tokenize, singleToken: single) }
    }

    /// Selections are TransformerLens's patch setters: ranges into one row of the activation.
    @Test func selectionRanges() throws {
        #expect(try PatchSelection.position(2).ranges(shape: [4, 3]) == [6..<9])
        #expect(try PatchSelection.head(1).ranges(shape: [2, 3, 2]) == [2..<4, 8..<10])                 // [pos, head, d_head]
        #expect(try PatchSelection.positionHead(pos: 1, head: 2).ranges(shape: [2, 3, 2]) == [10..<12])
        #expect(try PatchSelection.patternHead(1).ranges(shape: [2, 3, 3]) == [9..<18])                 // [head, dest, src]
        #expect(try PatchSelection.patternDest(head: 1, dest: 2).ranges(shape: [2, 3, 3]) == [15..<18])
        #expect(try PatchSelection.patternDestSrc(head: 0, dest: 2, src: 1).ranges(shape: [2, 3, 3]) == [7..<8])
        #expect(try PatchSelection.neuron(1).ranges(shape: [2, 4]) == [1..<2, 5..<6])
        #expect(try PatchSelection.positionNeuron(pos: 1, neuron: 3).ranges(shape: [2, 4]) == [7..<8])
        #expect(PatchSelection.union([.position(3), .positionHead(pos: 1, head: 0)]).suffixStart == 1)
        #expect(PatchSelection.patternDest(head: 0, dest: 4).suffixStart == 4)
        #expect(throws: MechanicError.self) { try PatchSelection.head(3).ranges(shape: [2, 3, 2]) }
        #expect(throws: MechanicError.self) { try PatchSelection.position(-1).ranges(shape: [2, 3]) }
    }
}
