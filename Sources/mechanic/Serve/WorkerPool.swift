import Foundation

/// At most `width` analyses at a time, each on its own thread off Swift's cooperative pool; the
/// others wait in order. Together with each request's own bound (`maxPositionsPerForward`), this
/// caps the memory that concurrent forwards take, whatever the number of requests.
final class WorkerPool: @unchecked Sendable {
    let width: Int
    private let lock = NSLock()
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private let queue = DispatchQueue(label: "mechanic.serve.work", attributes: .concurrent)

    init(width: Int) { self.width = max(1, width) }

    /// Runs `work` when a worker is free and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            if running < width {
                running += 1
                lock.unlock()
                c.resume()
            } else {
                waiting.append(c)
                lock.unlock()
            }
        }
    }

    private func release() {
        lock.lock()
        if waiting.isEmpty {
            running -= 1
            lock.unlock()
        } else {
            let next = waiting.removeFirst()   // the slot passes to the next waiter
            lock.unlock()
            next.resume()
        }
    }

    /// Analyses running now and waiting.
    var load: (running: Int, waiting: Int) {
        lock.lock(); defer { lock.unlock() }
        return (running, waiting.count)
    }
}
