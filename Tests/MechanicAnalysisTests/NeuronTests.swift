import Foundation
import ReportTestSupport
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// A model with a planted neuron: `blocks.0.mlp.hook_post[2] = relu(5·[token == 7] + position/100)`.
/// Residual: dims 0..<V one-hot token, dim V = position/100. Attention writes nothing; MLP0
/// writes nothing, so `blocks.1.hook_resid_pre` = embedding + position.
enum PlantedNeuron {
    static let V = 12, bos = 0, trigger = 7, neuron = 2, nCtx = 16

    static func model() throws -> HookedTransformer {
        let D = V + 1, M = 4, E = 4
        let config = ModelConfig(modelType: "planted-neuron", dModel: D, nLayers: 2, nHeads: 1, dHead: E, dMLP: M,
                                 dVocab: V, nCtx: nCtx, actFn: "relu", normalization: .none)
        var W_E = Tensor(zeros: [V, D])
        for t in 0..<V { W_E[t, t] = 1 }
        var W_pos = Tensor(zeros: [nCtx, D])
        for p in 0..<nCtx { W_pos[p, V] = Float(p) / 100 }
        var W_in = Tensor(zeros: [D, M])
        W_in[trigger, neuron] = 5
        W_in[V, neuron] = 1
        W_in[3, 0] = 1  // another neuron, on token 3
        let block = BlockWeights(ln1W: nil, ln1B: nil, W_Q: Tensor(zeros: [1, D, E]), W_K: Tensor(zeros: [1, D, E]),
                                 W_V: Tensor(zeros: [1, D, E]), b_Q: Tensor(zeros: [1, E]), b_K: Tensor(zeros: [1, E]),
                                 b_V: Tensor(zeros: [1, E]), W_O: Tensor(zeros: [1, E, D]), b_O: Tensor(zeros: [D]),
                                 ln2W: nil, ln2B: nil, W_in: W_in, W_gate: nil, b_in: Tensor(zeros: [M]),
                                 W_out: Tensor(zeros: [M, D]), b_out: Tensor(zeros: [D]))
        let weights = ModelWeights(W_E: W_E, W_pos: W_pos, blocks: [block, block], lnFinalW: nil, lnFinalB: nil,
                                   W_U: Tensor(zeros: [D, V]), b_U: Tensor(zeros: [V]))
        return try HookedTransformer(config: config, weights: weights)
    }

    /// Documents (no BOS). The trigger occurs at (doc, position): (0, 2), (1, 0), (1, 1), (2, 3), (2, 17).
    static let documents: [[Int]] = [
        [1, 2, 7, 3, 4],
        [7, 7, 1],
        [1, 2, 3, 7, 4, 5, 6, 8, 9, 10, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 5, 6, 8, 9, 10],
    ]

    /// The neuron's value at a document position, with chunks of 16 = BOS + 15 tokens.
    static func value(document d: Int, position p: Int) -> Float {
        let chunkPos = 1 + p % 15
        return (documents[d][p] == trigger ? 5 : 0) + Float(chunkPos) / 100
    }
}

@Suite struct NeuronTests {
    func search(_ options: NeuronSearchOptions, progress: ((NeuronSearchProgress) -> Void)? = nil) throws -> NeuronSearchResult {
        try search(.neuron(layer: 0, index: PlantedNeuron.neuron), options, progress: progress)
    }

    func search(_ probe: ActivationProbe, _ options: NeuronSearchOptions,
                progress: ((NeuronSearchProgress) -> Void)? = nil) throws -> NeuronSearchResult {
        let model = try PlantedNeuron.model()
        var corpus = DocumentList(tokens: PlantedNeuron.documents)
        return try model.topActivatingExamples(probe, corpus: &corpus, options: options, display: { "t\($0)" }, progress: progress)
    }

    @Test func topExamplesAreExactlyThePlantedTokenOccurrences() throws {
        for batchSize in [1, 3, 8] {
            let r = try search(NeuronSearchOptions(topK: 5, batchSize: batchSize, bos: PlantedNeuron.bos))
            let where_ = r.examples.map { [$0.document, $0.position] }
            // By value: chunk positions 4 (doc 2), 3 (doc 0; doc 2 pos 17 → second chunk, position 3), 2, 1.
            #expect(where_ == [[2, 3], [0, 2], [2, 17], [1, 1], [1, 0]], "batch size \(batchSize)")
            for e in r.examples {
                #expect(abs(e.value - PlantedNeuron.value(document: e.document, position: e.position)) < 1e-5)
                #expect(e.tokens[e.focus] == PlantedNeuron.trigger)
            }
            #expect(r.documents == 4 && r.tokens == 37 && r.chunks == 5 && r.stats.count == 37)
        }
    }

    @Test func beyondThePlantedTokensComeTheLatestPositions() throws {
        let r = try search(NeuronSearchOptions(topK: 7, bos: PlantedNeuron.bos))
        #expect(r.examples.prefix(5).allSatisfy { $0.value > 5 })
        // Next: the highest chunk position among other tokens is 15 (doc 2, position 14), then 14 (doc 2, 13).
        #expect(r.examples.suffix(2).map { [$0.document, $0.position] } == [[2, 14], [2, 13]])
        #expect(abs(r.examples[5].value - 0.15) < 1e-6)
    }

    @Test func contextWindowsStayInsideTheChunk() throws {
        let r = try search(NeuronSearchOptions(topK: 5, bos: PlantedNeuron.bos, contextBefore: 2, contextAfter: 1))
        let first = r.examples[0]  // doc 2, position 3 → chunk positions 2...5 (the BOS is never in a window)
        #expect(first.tokens == [2, 3, 7, 4] && first.focus == 2)
        #expect(first.strings == ["t2", "t3", "t7", "t4"])
        let expected: [Float] = [0.02, 0.03, 5.04, 0.05]
        #expect(zip(first.values, expected).allSatisfy { abs($0 - $1) < 1e-5 })
        let doc1 = r.examples.first { $0.document == 1 && $0.position == 0 }
        #expect(doc1?.tokens == [7, 7] && doc1?.focus == 0)  // clipped at the start of the chunk
        let second = r.examples.first { $0.document == 2 && $0.position == 17 }
        #expect(second?.tokens == [5, 6, 7, 8] && second?.focus == 2)  // second chunk: document positions 15...19
    }

    @Test func lowestOrderAndTieBreaks() throws {
        let r = try search(NeuronSearchOptions(topK: 3, order: .lowest, bos: PlantedNeuron.bos))
        #expect(r.examples.map { [$0.document, $0.position] } == [[0, 0], [2, 0], [2, 15]])
        #expect(r.examples.allSatisfy { abs($0.value - 0.01) < 1e-6 })
    }

    @Test func directionProbeReadsTheResidualStream() throws {
        var v = [Float](repeating: 0, count: PlantedNeuron.V + 1)
        v[PlantedNeuron.trigger] = 1
        let r = try search(.direction(hook: "blocks.1.hook_resid_pre", vector: v), NeuronSearchOptions(topK: 5, bos: PlantedNeuron.bos))
        #expect(r.examples.map { [$0.document, $0.position] } == [[0, 2], [1, 0], [1, 1], [2, 3], [2, 17]])
        #expect(r.examples.allSatisfy { abs($0.value - 1) < 1e-6 })
    }

    @Test func onlyTheNeededBlocksRun() throws {
        let model = try PlantedNeuron.model()
        #expect(try ActivationProbe.neuron(layer: 0, index: 2).forwardOptions(for: model.config).stopAtLayer == 1)
        #expect(try ActivationProbe.neuron(layer: 1, index: 2).forwardOptions(for: model.config).stopAtLayer == nil)
        #expect(try ActivationProbe(hook: "embed", readout: .component(0)).forwardOptions(for: model.config).stopAtLayer == 0)
        #expect(try ActivationProbe(hook: "resid_pre", readout: .component(0)).hook == "hook_resid_pre")
        #expect(throws: MechanicError.self) {
            try ActivationProbe(hook: "blocks.0.attn.hook_pattern", readout: .component(0)).forwardOptions(for: model.config)
        }
        #expect(throws: MechanicError.self) { try ActivationProbe.neuron(layer: 5, index: 0).forwardOptions(for: model.config) }
        // A hook after the stop layer would not fire: the search runs block 0 only and still finds the neuron.
        let r = try search(NeuronSearchOptions(topK: 1, bos: PlantedNeuron.bos))
        #expect(r.examples.first?.tokens.contains(PlantedNeuron.trigger) == true)
    }

    @Test func badProbesNameTheProblem() throws {
        do {
            _ = try search(.neuron(layer: 0, index: 9), NeuronSearchOptions(bos: 0))
            Issue.record("expected an error")
        } catch let e as MechanicError {
            #expect(e.description.contains("blocks.0.mlp.hook_post has 4 components") && e.description.contains("index 9"))
        }
        do {
            _ = try search(.direction(hook: "blocks.0.hook_resid_post", vector: [1, 2]), NeuronSearchOptions(bos: 0))
            Issue.record("expected an error")
        } catch let e as MechanicError {
            #expect(e.description.contains("2 entries") && e.description.contains("13 components"))
        }
        #expect(throws: MechanicError.self) { try search(NeuronSearchOptions(chunkLength: 17, bos: 0)) }
    }

    @Test func limitsAndProgress() throws {
        var calls: [NeuronSearchProgress] = []
        let r = try search(NeuronSearchOptions(topK: 5, batchSize: 2, bos: 0, maxDocuments: 2)) { calls.append($0) }
        #expect(r.documents == 2 && r.tokens == 8)
        #expect(calls.count == 1 && calls.last?.tokens == 8)
        let t = try search(NeuronSearchOptions(topK: 5, batchSize: 2, bos: 0, maxTokens: 10))
        #expect(t.tokens == 10 && t.documents == 3)
        var fractions: [Double] = []
        _ = try search(NeuronSearchOptions(topK: 5, batchSize: 1, bos: 0)) { fractions.append($0.fraction ?? -1) }
        #expect(fractions.count == 5 && fractions.last == 1)
    }

    @Test func topKKeepsTheBestUnderAnyInsertionOrder() {
        var rng = SplitMix64(seed: 7)
        let values = (0..<500).map { _ in Int(rng.next() % 1000) }
        for trial in 0..<3 {
            var heap = TopK<Int>(10) { $0 > $1 }
            let order = trial == 0 ? values : trial == 1 ? values.reversed() : values.sorted()
            for v in order { heap.insert(v) }
            #expect(heap.sorted == Array(values.sorted(by: >).prefix(10)))
        }
        var empty = TopK<Int>(0) { $0 > $1 }
        empty.insert(3)
        #expect(empty.sorted.isEmpty)
    }

    @Test func progressBarRendering() {
        let bar = ProgressBar(width: 10)
        #expect(bar.render(fraction: 0.5, note: "3 docs") == "[=====>    ]  50%  3 docs")
        #expect(bar.render(fraction: 1, note: "") == "[==========] 100%  ")
        #expect(bar.render(fraction: nil, note: "x") == "[??????????]    x")
        #expect(ProgressBar.grouped(1_234_567) == "1,234,567" && ProgressBar.grouped(999) == "999")
    }

    @Test func neuronReportShowsTheExamples() throws {
        let r = try search(NeuronSearchOptions(topK: 5, bos: PlantedNeuron.bos))
        var report = Report(title: "neuron")
        report.add(r)
        let html = report.html
        #expect(HTMLCheck.xmlError(HTMLCheck.withoutDoctype(html)) == nil)
        #expect(html.contains("5.04 · doc 2:3"))
        let tips = HTMLCheck.titleAttributes(html)
        #expect(tips.contains("t7: 5.04") && tips.contains("t7: 5.01"))
        #expect(r.focusTokenCounts.first.map { [$0.token, String($0.count)] } == ["t7", "5"])
    }
}
