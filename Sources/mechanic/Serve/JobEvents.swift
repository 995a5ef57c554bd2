import Foundation
import Hummingbird
import MechanicAnalysis

extension ExplorerServer {
    /// `GET /api/jobs/ID/events`: the job's progress as server-sent events (`text/event-stream`),
    /// alongside polling `GET /api/jobs/ID`. Each change of state or count is one
    /// `event: progress` whose data is the job's status without its result; the stream ends with
    /// one `event: done` whose data is the full status (`state` done, failed or cancelled; the
    /// command's JSON as `result` when done). The job is looked at every `eventInterval`.
    func jobEvents(_ id: String) -> Response {
        guard let job = jobs.job(id) else { return Self.error(404, "no such job (finished jobs are kept for a while only)") }
        let jobs = self.jobs
        let body = ResponseBody { writer in
            var last = ""
            while true {
                let finished = jobs.isFinished(job)
                let status = jobs.status(job, result: finished)
                if finished {
                    try await writer.write(ByteBuffer(string: Self.event("done", status)))
                    break
                }
                if status != last {
                    try await writer.write(ByteBuffer(string: Self.event("progress", status)))
                    last = status
                }
                try await Task.sleep(for: Self.eventInterval)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"], body: body)
    }

    static let eventInterval = Duration.milliseconds(50)

    /// One server-sent event; `data` is one line of JSON (JSON text has no raw newlines).
    static func event(_ name: String, _ data: String) -> String {
        "event: \(name)\ndata: \(data)\n\n"
    }
}
