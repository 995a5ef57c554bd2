import Dispatch
import Foundation

/// Splits `0..<count` into contiguous chunks run on all cores (`DispatchQueue.concurrentPerform`),
/// or inline when the work is too small to pay for the threads.
public enum Parallel {
    public static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on disjoint ranges covering `0..<count`; `grain` is the smallest range worth a thread.
    public static func chunks(_ count: Int, grain: Int = 4096, _ body: (Range<Int>) -> Void) {
        let parts = min(cores, max(1, count / max(grain, 1)))
        if parts <= 1 {
            body(0..<count)
            return
        }
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
