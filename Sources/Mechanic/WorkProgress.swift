import Foundation

/// A request to stop long work, settable from any thread (e.g. the queue of a SIGINT handler)
/// and read by the work between chunks.
public final class CancellationToken: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false

    public init() {}

    public var isCancelled: Bool { lock.withLock { flag } }

    public func cancel() { lock.withLock { flag = true } }
}

/// Progress of long work (a patching sweep: patches done out of the total) and the place where
/// it stops when cancelled.
///
/// The work reports in steps between chunks (one packed pass, one batched forward) — never per
/// element — so observing it costs nothing measurable. Steps may be finer than the units shown:
/// with `scale` s, every s steps make one unit (a patch over every prompt pair is `pairs`
/// steps, so streamed batches of pairs add up to whole patches). Work made of stages that
/// report themselves (a sweep over batches, a stacked `_every` kind) nests: only the outermost
/// `begin` sets the total.
public final class WorkProgress {
    /// What is counted, plural ("patches").
    public let unit: String
    public let cancellation: CancellationToken
    /// Called with (done, total) in units after each chunk of work, on the working thread.
    public var onUpdate: ((_ done: Int, _ total: Int) -> Void)?

    private var steps = 0
    private var totalSteps = 0
    private var scale = 1
    private var depth = 0

    public init(unit: String = "patches", cancellation: CancellationToken = CancellationToken(),
                onUpdate: ((_ done: Int, _ total: Int) -> Void)? = nil) {
        self.unit = unit
        self.cancellation = cancellation
        self.onUpdate = onUpdate
    }

    /// Units done so far.
    public var done: Int { steps / scale }
    /// Units in the current work (0 before it begins).
    public var total: Int { totalSteps / scale }

    /// Runs `body` as work of `total` units of `scale` steps each (or, inside other work, as a
    /// stage of it). Throws `MechanicError.cancelled` when cancelled before or during the work.
    public func run<T>(total: Int, scale: Int = 1, _ body: () throws -> T) throws -> T {
        if depth == 0 {
            steps = 0
            self.scale = max(scale, 1)
            totalSteps = total * self.scale
            onUpdate?(0, self.total)
        }
        depth += 1
        defer { depth -= 1 }
        try check()
        return try body()
    }

    /// `n` more steps are done; throws `MechanicError.cancelled` when cancelled.
    public func advance(_ n: Int) throws {
        steps += n
        onUpdate?(done, total)
        try check()
    }

    /// Throws `MechanicError.cancelled` (naming the units done) when cancelled.
    public func check() throws {
        if cancellation.isCancelled { throw MechanicError.cancelled(done: done, total: total, unit: unit) }
    }
}
