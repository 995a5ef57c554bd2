import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicBench

/// Circuit discovery on a GPT-2-small-shaped random checkpoint (32,491 edges): EAP over the
/// pairs, and exact ACDC's edge tests — a sample per receiver layer, timed, and the full run's
/// time extrapolated from them (every edge is tested once). `scripts/bench/circuit.sh` runs the
/// same EAP with TransformerLens hooks (use_attn_result, use_split_qkv_input, use_hook_mlp_in)
/// on the same checkpoint and pairs.
struct CircuitBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuit",
        abstract: "Time EAP and exact ACDC edge tests on a GPT-2-small-shaped random model.")

    @OptionGroup var setup: BenchPairOptions
    @Option(help: "Repeats of EAP (the median is reported).")
    var repeats = 3
    @Option(help: "ACDC edge tests timed per receiver layer (0 skips ACDC).")
    var acdcSample = 4
    @Option(help: "Run exact ACDC for real (KL, this threshold; 0 skips it), stopping after --acdc-limit seconds.")
    var acdcThreshold = 0.01
    @Option(help: "Seconds the full ACDC run may take before it is stopped (edges visited are reported).")
    var acdcLimit = 1200.0
    @Option(help: "Write the prompt pairs here (JSON) for the TransformerLens side.")
    var writeInputs: String?

    func run() throws {
        let model = try HookedTransformer.load(try RandomCheckpoint.gpt2Directory(setup.dir), streaming: setup.streaming.load)
        let list = PatchingBenchmark.pairs(count: setup.pairs, seq: setup.seq, dVocab: model.config.dVocab)
        if let writeInputs {
            let object: [String: Any] = ["clean": list.map(\.clean), "corrupt": list.map(\.corrupt),
                                         "answer": list.map(\.answer), "wrong": list.map(\.wrong)]
            try OutputFile(writeInputs, option: "--write-inputs").write(JSONSerialization.data(withJSONObject: object))
        }
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t = Date()
            try body()
            return Date().timeIntervalSince(t)
        }
        var checksum = 0.0
        _ = try CircuitPatcher(model: model, pairs: list).edgeAttribution()                  // warm-up
        var eapTimes: [Double] = []
        for _ in 0..<max(repeats, 1) {
            eapTimes.append(try seconds {
                let scores = try CircuitPatcher(model: model, pairs: list).edgeAttribution()  // setup + forward/backward + scores
                checksum += Double(scores.map(abs).max() ?? 0)
            })
        }
        let eap = eapTimes.sorted()[eapTimes.count / 2]

        // ACDC: each edge test is a patched run from its receiver's layer; time a few per layer.
        let patcher = try CircuitPatcher(model: model, pairs: list)
        let g = patcher.graph
        let offsets = g.receiverOffsets
        var perLayer: [[String: Any]] = []
        var estimate = 0.0
        if acdcSample > 0 {
            for layer in 0...g.nLayers {
                let receivers = g.receivers.indices.filter { g.receivers[$0].layer == layer }
                let edges = receivers.reduce(0) { $0 + g.receivers[$1].upstreamCount }
                var times: [Double] = []
                for i in 0..<acdcSample {
                    let r = receivers[(i * 7) % receivers.count]
                    var removed = [Bool](repeating: false, count: g.edges.count)
                    removed[offsets[r] + (i % g.receivers[r].upstreamCount)] = true
                    times.append(try seconds { checksum += try patcher.metric(removed: removed, .kl) })
                }
                let mean = times.reduce(0, +) / Double(times.count)
                estimate += mean * Double(edges)
                perLayer.append(["layer": layer, "edges": edges, "test_s": mean])
            }
        }
        // The full exact ACDC run, stopped (cancelled) after `acdcLimit` seconds.
        var full: [String: Any] = [:]
        if acdcThreshold > 0 {
            let token = CancellationToken()
            let begin = Date()
            var visited = 0
            let progress = WorkProgress(unit: "edge tests", cancellation: token) { done, _ in
                visited = done
                if Date().timeIntervalSince(begin) > acdcLimit { token.cancel() }
            }
            do {
                let out = try patcher.acdc(threshold: acdcThreshold, metric: .kl, progress: progress)
                full = ["finished": true, "kept": out.kept.filter { $0 }.count, "skipped": out.skipped, "visited": out.tests]
            } catch MechanicError.cancelled(let done, _, _) {
                full = ["finished": false, "visited": max(done, visited)]
            }
            full["seconds"] = Date().timeIntervalSince(begin)
            full["threshold"] = acdcThreshold
        }
        try printJSON(["eap_s": eap, "acdc_estimate_s": estimate, "acdc_tests": perLayer, "edges": g.edges.count,
                       "pairs": setup.pairs, "seq": setup.seq, "checksum": checksum, "acdc_full": full])
    }
}
