import Dispatch
import Foundation

/// Splits `0..<count` into contiguous chunks run on all cores (`DispatchQueue.concurrentPerform`),
/// or inline when the work is too small to pay for the threads.
///
/// There are up to 4 chunks per core, taken by whichever thread is free: a core shared with
/// another thread (OpenBLAS's workers spin a while after each product; other processes) or a
/// chunk of longer rows then delays the call by a fraction of a chunk instead of half the work.
public enum Parallel {
    public static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on disjoint ranges covering `0..<count`; `grain` is the smallest range worth a thread.
    /// `body` must not depend on how the ranges are cut (each element or row is computed alone).
    public static func chunks(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        let most = count / max(grain, 1)   // chunks of at least `grain`
        if cores <= 1 || most <= 1 {
            body(0..<count)
            return
        }
        let parts = min(most, 4 * cores)
        let size = (count + parts - 1) / parts
        // Workers write disjoint ranges; the caller's buffers outlive the call.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let lo = i * size, hi = min(count, lo + size)
                if lo < hi { work(lo..<hi) }
            }
        }
    }
}
