import Foundation
import Hummingbird
import Mechanic
import MechanicAnalysis
import MechanicIO

extension ExplorerServer {
    /// A page's query parameters (percent-decoded); the last of a repeated key wins.
    static func query(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { out[String(k)] = String(v) }
        return out
    }

    /// Query parameters as a request object: `keys` as strings, `flags` as `true` when set.
    static func requestObject(_ query: [String: String], keys: [String], flags: [String] = []) -> [String: JSONValue] {
        var object: [String: JSONValue] = [:]
        for k in keys { if let v = query[k], !v.isEmpty { object[k] = .string(v) } }
        for f in flags { if let v = query[f], !["", "0", "false"].contains(v) { object[f] = .bool(true) } }
        return object
    }

    /// `GET /?prompt=TEXT` (or `&tokens=1,2,3`; `&answer=`, `&answer-id=`, `&pos=`, `&mode=`, `&head=L,H`).
    func promptPage(_ request: Request) async -> Response {
        let query = Self.query(request)
        guard query["prompt"] != nil || query["tokens"] != nil else {
            return Self.page(Pages.prompt(model: modelName, query: query, overview: nil, attribution: nil, error: nil))
        }
        do {
            let input = Self.requestObject(query, keys: ["prompt", "tokens"], flags: ["no-bos"])
            var object = input
            for (k, v) in Self.requestObject(query, keys: ["answer", "answer-id", "mode", "top"]) { object[k] = v }
            let overviewCommand = Handoff(value: try PromptRequest.parse(["--model=\(modelName)", "--json"] + RequestArguments.argv(object: object)))
            let inputArgs = try RequestArguments.argv(object: input)
            let pos = query["pos"].flatMap { Int($0) } ?? -1
            let (model, name) = (self.model, modelName)
            let (overview, attribution) = try await pool.run { () -> (PromptOverview?, AttributionReport?) in
                let overview = try overviewCommand.value.result(model: model, progress: nil).value as? PromptOverview
                guard let answer = overview?.answer else { return (overview, nil) }
                let attribute = try AttributeCommand.parse(["--model=\(name)", "--json", "--answer-id=\(answer.id)", "--by=head",
                                                            "--top=\(Int(Int32.max))", "--pos=\(pos)"] + inputArgs)
                return (overview, try attribute.result(model: model, progress: nil).value as? AttributionReport)
            }
            return Self.page(Pages.prompt(model: modelName, query: query, overview: overview, attribution: attribution, error: nil))
        } catch {
            return Self.page(Pages.prompt(model: modelName, query: query, overview: nil, attribution: nil, error: errorSentence(error)), status: .badRequest)
        }
    }
}

extension ExplorerServer {
    /// `GET /head/L/H` (`?prompt=` or `&tokens=` for the prompt part, `&sources=1,2` for the circuits,
    /// `&mapping=hot:cold, big:small` and `&mapping-k=` for the mapping score); the mean ablation
    /// averages over the server's `--corpus` when given, else over the prompt's positions.
    func headPage(_ request: Request, layer: Int, head: Int) async -> Response {
        let query = Self.query(request)
        var r = Report(title: "Head L\(layer)H\(head)", meta: [("model", modelName)] + (query["prompt"].map { [("prompt", $0)] } ?? []))
        r.raw(Pages.promptForm(query, action: "/head/\(layer)/\(head)").replacingOccurrences(
            of: "<button", with: Pages.field("sources", "OV/QK source ids", query["sources"], placeholder: "1,2,3")
                + Pages.field("mapping", "mapping (source:target, …)", query["mapping"], placeholder: "hot:cold, big:small") + "<button"))
        return await reportPage(r) {
            var object = Self.requestObject(query, keys: ["prompt", "tokens", "sources", "mapping", "mapping-k"], flags: ["no-bos"])
            object["layer"] = .int(layer)
            object["head"] = .int(head)
            if let corpus { object["corpus"] = .string(corpus) }
            return try HeadRequest.parse(["--model=\(modelName)", "--json"] + RequestArguments.argv(object: object))
        }
    }
}
