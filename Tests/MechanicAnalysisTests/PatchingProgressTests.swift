import Foundation
import Testing
import Mechanic
@testable import MechanicAnalysis

/// Progress reports and cancellation of patching sweeps.
@Suite struct PatchingProgressTests {
    /// Every (done, total) a sweep reports.
    final class Recorder {
        var updates: [(done: Int, total: Int)] = []
        /// Cancels `token` once `done` reaches this.
        var cancelAt: Int?
        let token = CancellationToken()
        lazy var progress = WorkProgress(unit: "patches", cancellation: token) { [unowned self] done, total in
            updates.append((done, total))
            if let cancelAt, done >= cancelAt { token.cancel() }
        }

        /// Counts start at 0, never go down, and end at the total, which never changes.
        func checkComplete(total: Int, _ what: String) {
            #expect(updates.first.map { $0 == (0, total) } ?? false, "\(what): first update \(String(describing: updates.first))")
            #expect(updates.last.map { $0 == (total, total) } ?? false, "\(what): last update \(String(describing: updates.last)) of \(total)")
            #expect(zip(updates, updates.dropFirst()).allSatisfy { $0.done <= $1.done }, "\(what): not monotonic")
            #expect(updates.allSatisfy { $0.total == total }, "\(what): the total changed")
            #expect(updates.count > 2, "\(what): only \(updates.count) updates")
        }
    }

    static func pairs() throws -> [PatchingPair] { try PatchingSweepTests.pairs() }

    @Test(arguments: PatchEngine.allCases)
    func countsEveryPatchOnEveryEngine(_ engine: PatchEngine) throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        let c = model.config
        let run = try PatchingRun(model: model, pairs: try Self.pairs())
        run.maxBatchTokens = 64   // several chunks per hook point
        for kind in [ActPatchKind.residPre, .attnHeadOutAllPos, .blockEvery] {
            let r = Recorder()
            run.progress = r.progress
            _ = try run.run(kind, engine: engine)
            let expected = kind == .blockEvery ? 3 * c.nLayers * 10 : kind.shape(c, positions: 10).reduce(1, *)
            r.checkComplete(total: expected, "\(engine) \(kind)")
        }
    }

    @Test func countsPathPatchesAndStreamedBatches() throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        let heads = model.config.nLayers * model.config.nHeads
        let run = try PatchingRun(model: model, pairs: try Self.pairs())
        run.maxBatchTokens = 64
        var r = Recorder()
        run.progress = r.progress
        _ = try run.pathPatchEachHead(receivers: [.logits])
        r.checkComplete(total: heads, "path patching")

        // Seven pairs in batches of three: patches count over every pair, across the batches.
        let sweep = try PatchingSweep(model: model, pairs: try Self.pairs(), metric: .normalizedLogitDiff, mode: .ablate(.mean), pairBatchSize: 3)
        let sweeps: [(String, () throws -> Void)] = [("resid_pre", { _ = try sweep.run(.residPre) }),
                                                      ("path", { _ = try sweep.pathPatchEachHead(receivers: [.logits]) })]
        for (name, body) in sweeps {
            r = Recorder()
            sweep.progress = r.progress
            try body()
            r.checkComplete(total: name == "path" ? heads : 2 * 10, "sweep \(name)")
            if name == "resid_pre" {   // batches of 3, 3 and 1 pairs: whole patches over all 7 pairs, rounded down, at each batch's end
                let done = r.updates.map(\.done)
                #expect(zip(done, done.dropFirst()).allSatisfy { $0 <= $1 })
                let boundaries: [Int] = [0, 8, 17, 20]   // 20·3/7, 20·6/7 rounded down
                let seen = Set(done)
                #expect(boundaries.allSatisfy { seen.contains($0) }, "\(done)")
            }
        }
    }

    /// `diff --verify` counts its patches (one per component, over every prompt pair) and stops when cancelled.
    @Test func diffVerifyCountsItsPatches() throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        let pairs = Array(try Self.pairs().prefix(2))
        let r = Recorder()
        let report = try ActivationDiff.run(model: model, a: pairs.map(\.clean), b: pairs.map(\.corrupt), verify: 4, progress: r.progress)
        #expect(report.verification?.results.count == 4)
        r.checkComplete(total: 4, "diff --verify")
        let cancelled = Recorder()
        cancelled.cancelAt = 2
        #expect(throws: MechanicError.cancelled(done: 2, total: 4, unit: "patches")) {
            try ActivationDiff.run(model: model, a: pairs.map(\.clean), b: pairs.map(\.corrupt), verify: 4, progress: cancelled.progress)
        }
    }

    @Test func aCancelledRunDoesNoWork() throws {
        let run = try PatchingRun(model: try PatchingFixtures.model("gpt2-tiny"), pairs: try Self.pairs())
        let r = Recorder()
        r.token.cancel()
        run.progress = r.progress
        #expect(throws: MechanicError.cancelled(done: 0, total: 20, unit: "patches")) { try run.run(.residPre) }
        #expect(r.updates.count == 1)   // the start, nothing after
        #expect(throws: MechanicError.cancelled(done: 0, total: 1, unit: "patches")) { try run.evaluate(together: [PatchSite("z", layer: 0, .head(1))]) }
    }

    /// Cancelled during the sweep, the work stops at the next chunk boundary and says how far it got.
    @Test(arguments: [PatchEngine.fast, .naive])
    func cancellingMidSweepStopsAtTheNextChunk(_ engine: PatchEngine) throws {
        let model = try PatchingFixtures.model("gpt2-tiny")
        let sweep = try PatchingSweep(model: model, pairs: try Self.pairs(), pairBatchSize: 3)
        sweep.maxBatchTokens = 64
        let r = Recorder()
        r.cancelAt = 100
        sweep.progress = r.progress
        let total = 2 * model.config.dMLP
        do {
            _ = try sweep.run(.mlpNeuron, engine: engine)
            Issue.record("\(engine): the cancelled sweep finished")
        } catch let MechanicError.cancelled(done, t, unit) {
            #expect(t == total && unit == "patches")
            #expect(done >= 100 && done < total && done == r.updates.last?.done, "\(engine): stopped at \(done)")
            #expect(r.updates.filter { $0.done >= 100 }.count == 1, "\(engine): work went on after the cancellation")
        }
        #expect(MechanicError.cancelled(done: 540, total: 1200, unit: "patches").description == "interrupted after 540 of 1200 patches")
    }
}
