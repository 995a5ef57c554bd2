import Foundation
import Mechanic
import MechanicAnalysis

/// Analyses started with `POST /api/jobs/<command>`: each runs on the worker pool, reports how
/// far it got, and can be cancelled (it stops at its next chunk boundary). Only the latest
/// `capacity` jobs are kept, so the store does not grow with the number of requests.
final class JobStore: @unchecked Sendable {
    enum State: String { case queued, running, done, failed, cancelled }

    final class Job: @unchecked Sendable {
        let id: String
        let command: String
        let token = CancellationToken()
        var state = State.queued
        var done = 0, total = 0
        var unit = "steps"
        /// The command's `--json` text when done; the error sentence when failed.
        var result: String?
        var error: String?
        init(id: String, command: String) { (self.id, self.command) = (id, command) }
    }

    let capacity: Int
    private let lock = NSLock()
    private var jobs: [Job] = []
    private var counter = 0

    init(capacity: Int = 32) { self.capacity = capacity }

    func create(command: String) -> Job {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        let job = Job(id: "j\(counter)", command: command)
        jobs.append(job)
        // Forget the oldest finished jobs beyond the capacity (running ones are kept).
        while jobs.count > capacity, let i = jobs.firstIndex(where: { [.done, .failed, .cancelled].contains($0.state) }) {
            jobs.remove(at: i)
        }
        return job
    }

    func job(_ id: String) -> Job? {
        lock.lock(); defer { lock.unlock() }
        return jobs.first { $0.id == id }
    }

    func update(_ job: Job, _ change: (Job) -> Void) {
        lock.lock(); defer { lock.unlock() }
        change(job)
    }

    /// Whether the job has stopped (done, failed or cancelled).
    func isFinished(_ job: Job) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return [.done, .failed, .cancelled].contains(job.state)
    }

    /// `{"id", "command", "state", "done", "total", "unit", "result" (the command's JSON), "error"}`;
    /// `result: false` leaves the result out (the events' progress lines).
    func status(_ job: Job, result: Bool = true) -> String {
        lock.lock(); defer { lock.unlock() }
        var fields = ["\"id\":\(quoted(job.id))", "\"command\":\(quoted(job.command))", "\"state\":\(quoted(job.state.rawValue))",
                      "\"done\":\(job.done)", "\"total\":\(job.total)", "\"unit\":\(quoted(job.unit))"]
        if let e = job.error { fields.append("\"error\":\(quoted(e))") }
        if result, let r = job.result { fields.append("\"result\":" + r) }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// A string as a JSON string literal.
func quoted(_ s: String) -> String {
    (try? ResultJSON.string(s)) ?? "\"\""
}
