import Foundation
import Hummingbird
import Logging
import Mechanic
import MechanicAnalysis

/// A value handed to another thread whose owner guarantees it is used by one thread at a time
/// (a parsed command, read-only once parsed).
struct Handoff<T>: @unchecked Sendable { let value: T }

/// The routes: pages, `POST /api/<command>` (the commands' `--json`), `POST /api/prompt`,
/// jobs with progress and cancel, and JSON 404s. Routes parse, call the library, encode.
final class ExplorerServer: @unchecked Sendable {
    let model: HookedTransformer
    let modelName: String
    let pool: WorkerPool
    let jobs = JobStore()
    /// The corpus of the neurons page (`serve --corpus`).
    let corpus: String?
    /// Larger bodies are answered 413.
    static let maxBody = 1 << 20

    init(model: HookedTransformer, modelName: String, pool: WorkerPool, corpus: String? = nil) {
        (self.model, self.modelName, self.pool, self.corpus) = (model, modelName, pool, corpus)
    }

    static let commands: [String: APICommand] = APICommand.all.merging(["prompt": APICommand.make("prompt", PromptRequest.self),
                                                                                      "head": APICommand.make("head", HeadRequest.self)]) { a, _ in a }

    func run(host: String, port: Int) async throws {
        let router = Router()
        router.get("/") { request, _ in await self.promptPage(request) }
        router.get("head/:layer/:head") { request, context in
            guard let l = context.parameters.get("layer").flatMap(Int.init), let h = context.parameters.get("head").flatMap(Int.init) else {
                return Self.error(404, "no such page; heads are /head/LAYER/HEAD, e.g. /head/1/0")
            }
            return await self.headPage(request, layer: l, head: h)
        }
        router.get("patch") { request, _ in Self.page(Pages.patch(model: self.modelName, query: Self.query(request))) }
        router.get("compare") { request, _ in await self.comparePage(request) }
        router.get("neurons") { request, _ in await self.neuronsPage(request, corpus: self.corpus) }
        router.get("browse") { request, _ in await self.browsePage(request, corpus: self.corpus) }
        router.get("explorer.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: ExplorerScript.source)))
        }
        router.get("api/model") { _, _ in Self.json(.ok, self.modelInfo()) }
        router.post("api/jobs/:name") { request, context in
            await self.startJob(context.parameters.get("name") ?? "", request: request)
        }
        router.get("api/jobs/:name") { _, context in
            guard let job = self.jobs.job(context.parameters.get("name") ?? "") else { return Self.error(404, "no such job (finished jobs are kept for a while only)") }
            return Self.json(.ok, self.jobs.status(job))
        }
        router.get("api/jobs/:name/events") { _, context in self.jobEvents(context.parameters.get("name") ?? "") }
        router.post("api/jobs/:name/cancel") { _, context in
            guard let job = self.jobs.job(context.parameters.get("name") ?? "") else { return Self.error(404, "no such job") }
            job.token.cancel()
            return Self.json(.ok, self.jobs.status(job))
        }
        router.post("api/:command") { request, context in
            await self.api(context.parameters.get("command") ?? "", request: request)
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("**", method: method) { request, _ in Self.error(404, "no such page or API route: \(request.method) \(request.uri.path)") }
        }
        var logger = Logger(label: "mechanic.serve")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)),
                              onServerRunning: { channel in
                                  let shown = host.contains(":") ? "[\(host)]" : host
                                  // Unbuffered: a script reading the port sees it at once.
                                  FileHandle.standardOutput.write(Data("listening on http://\(shown):\(channel.localAddress?.port ?? port)/\n".utf8))
                              }, logger: logger)
        try await app.runService()
    }

    // MARK: API

    /// `POST /api/<command>`: the command's `--json` output, or 400 `{"error"}`.
    func api(_ name: String, request: Request) async -> Response {
        guard let command = Self.commands[name] else {
            return Self.error(404, "no API command '\(name)'; the commands are \(Self.commands.keys.sorted().joined(separator: ", "))")
        }
        let body: Data
        switch await Self.body(request) {
        case .success(let data): body = data
        case .failure(let response): return response.value
        }
        do {
            let parsed = Handoff(value: try command.command(body: body, modelName: modelName))
            let model = self.model
            let text = try await pool.run {
                try parsed.value.result(model: model, progress: WorkProgress(unit: "steps")).json()
            }
            return Self.json(.ok, text)
        } catch {
            return Self.error(400, errorSentence(error))
        }
    }

    /// `POST /api/jobs/<command>`: starts the command on the pool; `{"id", "state", …}` at once.
    func startJob(_ name: String, request: Request) async -> Response {
        guard let command = Self.commands[name] else { return Self.error(404, "no API command '\(name)'") }
        let body: Data
        switch await Self.body(request) {
        case .success(let data): body = data
        case .failure(let response): return response.value
        }
        let parsed: Handoff<any ModelCommand>
        do { parsed = Handoff(value: try command.command(body: body, modelName: modelName)) } catch { return Self.error(400, errorSentence(error)) }
        let job = jobs.create(command: name)
        let (jobs, model, pool) = (self.jobs, self.model, self.pool)
        Task {
            do {
                let text = try await pool.run { () -> String in
                    jobs.update(job) { $0.state = .running }
                    let progress = WorkProgress(unit: "patches", cancellation: job.token) { done, total in
                        jobs.update(job) { ($0.done, $0.total) = (done, total) }
                    }
                    try progress.check()
                    let out = try parsed.value.result(model: model, progress: progress).json()
                    jobs.update(job) { $0.unit = progress.unit }
                    return out
                }
                jobs.update(job) { ($0.state, $0.result) = (.done, text) }
            } catch MechanicError.cancelled {
                jobs.update(job) { $0.state = .cancelled }
            } catch {
                jobs.update(job) { ($0.state, $0.error) = (.failed, errorSentence(error)) }
            }
        }
        return Self.json(.ok, jobs.status(job))
    }

    /// `{"model", "n_layers", "n_heads", "d_model", "d_vocab", "tokenizer", "commands"}`.
    func modelInfo() -> String {
        let c = model.config
        return "{\"model\":\(quoted(modelName)),\"n_layers\":\(c.nLayers),\"n_heads\":\(c.nHeads),\"d_model\":\(c.dModel),"
            + "\"d_vocab\":\(c.dVocab),\"tokenizer\":\(model.tokenizer != nil),\"commands\":[\(Self.commands.keys.sorted().map(quoted).joined(separator: ","))]}"
    }

    // MARK: responses

    /// The body, or the 413 answer when it is over `maxBody`.
    static func body(_ request: Request) async -> Result<Data, ResponseError> {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBody {
            return .failure(ResponseError(value: tooLarge()))
        }
        do {
            let buffer = try await request.body.collect(upTo: maxBody)
            return .success(Data(buffer.readableBytesView))
        } catch {
            return .failure(ResponseError(value: tooLarge()))
        }
    }

    struct ResponseError: Error, @unchecked Sendable { let value: Response }

    static func tooLarge() -> Response { error(413, "the request body is over 1 MiB") }

    static func error(_ status: Int, _ message: String) -> Response {
        json(HTTPResponse.Status(code: status), "{\"error\":\(quoted(message))}")
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func page(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
