import Foundation
import Testing

/// The server under load and long work: concurrent requests, memory, jobs with progress and cancel.
@Suite(.serialized) struct ServeLoadTests {
    static let gpt2 = CLI.model("gpt2-tiny")

    /// Highest `VmRSS` seen while `body` runs (sampled every 5 ms).
    static func peakRSS(_ server: ServeProcess, during body: () throws -> Void) rethrows -> Int {
        let peak = PeakBox()
        let stop = PeakBox()
        let pid = server.pid
        let sampler = Thread {
            while stop.value == 0 { peak.raise(ServeProcess.status(pid, "VmRSS")); usleep(5000) }
        }
        sampler.start()
        defer { stop.raise(1) }
        try body()
        peak.raise(ServeProcess.status(pid, "VmRSS"))
        return peak.value
    }

    /// Runs `body(0..<n)` on `n` threads at once (all started before any is waited for).
    static func concurrently(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<n {
            group.enter()
            Thread { body(i); group.leave() }.start()
        }
        group.wait()
    }

    @Test func fiftyConcurrentRequestsAreAllAnsweredCorrectlyWithinMemory() throws {
        let server = try ServeProcess(["--model", Self.gpt2])
        let body = #"{"prompt": "The cat sat on the mat and the dog sat on the", "answer": " cat", "top": 5}"#
        let expected = try server.post("/api/prompt", body)
        #expect(expected.status == 200, "\(expected.text)")
        let predict = try CLI.run(["predict", "--model", Self.gpt2, "--prompt", "The cat sat", "--json"]).stdout.trimmingCharacters(in: .newlines)
        for _ in 0..<3 { _ = try server.post("/api/prompt", body) }  // warm
        let idle = server.rssKiB
        #expect(idle > 0)
        let replies = ReplyBox(count: 50)
        let peak = try Self.peakRSS(server) {
            Self.concurrently(50) { i in
                // Every fifth request is another command: answers must not mix.
                replies.set(i, i % 5 == 4 ? try? server.post("/api/predict", #"{"prompt": "The cat sat"}"#) : try? server.post("/api/prompt", body))
            }
        }
        for i in 0..<50 {
            let r = replies.get(i)
            #expect(r?.status == 200, "request \(i): \(r?.text ?? "no reply")")
            #expect(r?.text == (i % 5 == 4 ? predict : expected.text), "request \(i)")
        }
        #expect(Double(peak) <= 1.5 * Double(idle), "peak RSS \(peak) KiB vs idle \(idle) KiB")
        // A second round does not grow the server.
        let peak2 = try Self.peakRSS(server) {
            Self.concurrently(50) { _ in _ = try? server.post("/api/prompt", body) }
        }
        #expect(Double(peak2) <= 1.5 * Double(idle), "second round: peak RSS \(peak2) KiB vs idle \(idle) KiB")
    }

    @Test func patchJobReportsProgressAndItsResultEqualsTheCommand() throws {
        let server = try ServeProcess(["--model", Self.gpt2])
        let args = ["--clean-tokens", "1,5,9,3,7", "--corrupt-tokens", "1,5,8,3,7", "--answer-id", "4", "--wrong-id", "6", "--act", "resid_pre"]
        let start = try server.post("/api/jobs/patch", #"{"clean-tokens": "1,5,9,3,7", "corrupt-tokens": "1,5,8,3,7", "answer-id": 4, "wrong-id": 6, "act": "resid_pre"}"#)
        #expect(start.status == 200, "\(start.text)")
        let id = try #require(start.json["id"] as? String)
        var status: [String: Any] = [:]
        for _ in 0..<500 {
            status = try server.get("/api/jobs/\(id)").json
            if ["done", "failed", "cancelled"].contains(status["state"] as? String ?? "") { break }
            usleep(10_000)
        }
        #expect(status["state"] as? String == "done", "\(status)")
        #expect(status["total"] as? Int == 10 && status["done"] as? Int == 10, "\(status)")  // 2 layers × 5 positions
        let cli = try CLI.json(try CLI.run(["patch", "--model", Self.gpt2, "--json"] + args))
        #expect(NSDictionary(dictionary: status["result"] as? [String: Any] ?? [:]).isEqual(to: cli), "\(status)")
        #expect(try server.get("/api/jobs/nope").status == 404)
        let bad = try server.post("/api/jobs/patch", #"{"act": "resid_pre"}"#)
        #expect(bad.status == 400, "\(bad.text)")
    }

    @Test func jobProgressStreamsAsServerSentEvents() throws {
        let server = try ServeProcess(["--model", Self.gpt2, "--workers", "1"])
        // 120 pairs through the naive engine: a second or so of work, reported 4 pairs at a time.
        let lines = (0..<120).map { i in #"{"clean": [1, 5, \#(9 + i % 7), 3, 7], "corrupt": [1, 5, 8, 3, 7], "answer": 4, "wrong": 6}"# }
        let dataset = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-serve-events-\(getpid()).jsonl")
        try lines.joined(separator: "\n").write(to: dataset, atomically: true, encoding: .utf8)
        let options = #"{"dataset": "\#(dataset.path)", "act": "resid_pre", "engine": "naive", "pair-batch": 4}"#
        let start = try server.post("/api/jobs/patch", options)
        let id = try #require(start.json["id"] as? String)
        var seenWhileRunning = false
        let (status, headers, events) = try HTTPClient.events(port: server.port, path: "/api/jobs/\(id)/events") { event in
            // The first progress event arrives while the job is still going (a stream, not one reply at the end).
            if event.name == "progress" && !seenWhileRunning {
                let now = try server.get("/api/jobs/\(id)").json
                seenWhileRunning = ["queued", "running"].contains(now["state"] as? String ?? "")
            }
        }
        #expect(status == 200)
        #expect(headers["content-type"]?.hasPrefix("text/event-stream") == true, "\(headers)")
        #expect(seenWhileRunning)
        let progress = events.filter { $0.name == "progress" }
        #expect(progress.count >= 3, "\(events.map(\.data))")
        let done = progress.map { $0.json["done"] as? Int ?? -1 }
        #expect(zip(done, done.dropFirst()).allSatisfy { $0 <= $1 } && done.allSatisfy { $0 >= 0 }, "\(done)")
        #expect(progress.allSatisfy { $0.json["result"] == nil })
        // One final event, the last: the whole status with the command's result.
        #expect(events.last?.name == "done" && events.filter { $0.name == "done" }.count == 1)
        let final = try #require(events.last?.json)
        #expect(final["state"] as? String == "done" && final["done"] as? Int == final["total"] as? Int, "\(final)")
        let polled = try server.get("/api/jobs/\(id)").json
        #expect(NSDictionary(dictionary: final).isEqual(to: polled))
        let cli = try CLI.json(try CLI.run(["patch", "--model", Self.gpt2, "--json", "--dataset", dataset.path, "--act", "resid_pre",
                                            "--engine", "naive", "--pair-batch", "4"]))
        #expect(NSDictionary(dictionary: final["result"] as? [String: Any] ?? [:]).isEqual(to: cli))
        // A finished job's stream is its one final event; an unknown job is a 404.
        let again = try HTTPClient.events(port: server.port, path: "/api/jobs/\(id)/events")
        #expect(again.2.map(\.name) == ["done"])
        #expect(try server.get("/api/jobs/nope/events").status == 404)
    }

    @Test func aCancelledJobStopsAndSaysSo() throws {
        let server = try ServeProcess(["--model", Self.gpt2, "--workers", "1"])
        // 400 pairs through the naive engine (one forward per patch): seconds of work.
        let lines = (0..<400).map { i in #"{"clean": [1, 5, \#(9 + i % 7), 3, 7], "corrupt": [1, 5, 8, 3, 7], "answer": 4, "wrong": 6}"# }
        let dataset = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-serve-pairs-\(getpid()).jsonl")
        try lines.joined(separator: "\n").write(to: dataset, atomically: true, encoding: .utf8)
        let start = try server.post("/api/jobs/patch", #"{"dataset": "\#(dataset.path)", "act": "resid_pre", "engine": "naive", "pair-batch": 4}"#)
        let id = try #require(start.json["id"] as? String)
        usleep(200_000)
        let cancel = try server.post("/api/jobs/\(id)/cancel", "")
        #expect(cancel.status == 200)
        var status: [String: Any] = [:]
        for _ in 0..<1000 {
            status = try server.get("/api/jobs/\(id)").json
            if ["done", "failed", "cancelled"].contains(status["state"] as? String ?? "") { break }
            usleep(10_000)
        }
        #expect(status["state"] as? String == "cancelled", "\(status)")
        #expect(status["result"] == nil)
        #expect((status["done"] as? Int ?? 0) < (status["total"] as? Int ?? 0), "\(status)")
        // The worker is free again.
        let after = try server.post("/api/predict", #"{"prompt": "The cat"}"#)
        #expect(after.status == 200)
    }
}

final class PeakBox: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    var value: Int { lock.withLock { v } }
    func raise(_ x: Int) { lock.withLock { v = max(v, x) } }
}

final class ReplyBox: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [HTTPReply?]
    init(count: Int) { replies = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: HTTPReply?) { lock.withLock { replies[i] = r } }
    func get(_ i: Int) -> HTTPReply? { lock.withLock { replies[i] } }
}
