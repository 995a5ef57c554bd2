import Mechanic

/// How the patching engines report to `PatchingRun.progress`: a public entry point runs as one
/// sweep of its patches (nested entry points — a stacked `_every` kind, the batched fallback
/// of the packed engine, the batches of a `PatchingSweep` — count toward the outermost), and
/// each engine adds the patches it finished after every chunk of work (a packed pass, a
/// batched forward, a naive forward). Those are also the points where a cancelled sweep stops.
extension PatchingRun {
    /// Runs `body`, a sweep of `patches` patches over this run's pairs, under `progress`.
    func sweep<T>(patches: Int, _ body: () throws -> T) throws -> T {
        guard let progress else { return try body() }
        return try progress.run(total: patches, scale: pairs.count, body)
    }

    /// `rows` more (patch, pair) rows are done; throws `MechanicError.cancelled` when cancelled.
    func advance(rows: Int) throws {
        try progress?.advance(rows)
    }

    /// `patches` more patches, each over every pair of the run, are done.
    func advance(patches: Int) throws {
        try advance(rows: patches * pairs.count)
    }
}
