import Foundation
import Hummingbird
import Mechanic
import MechanicAnalysis
import MechanicIO

extension ExplorerServer {
    /// A page whose body is one command's report: the query (`keys` as options, `lists` split
    /// into repeated options at newlines, `flags`) parsed by the command's own parser.
    func commandPage(_ request: Request, title: String, command name: String, form: String,
                     keys: [String], lists: [String] = [], flags: [String] = [], extra: [String: JSONValue] = [:]) async -> Response {
        let query = Self.query(request)
        var r = Report(title: title, meta: [("model", modelName)])
        r.raw(form)
        let asked = (keys + lists).contains { !(query[$0] ?? "").isEmpty }
        guard asked, let command = Self.commands[name] else { return Self.page(Pages.finish(r)) }
        return await reportPage(r) {
            var object = Self.requestObject(query, keys: keys, flags: flags).merging(extra) { a, _ in a }
            for key in lists {
                let items = (query[key] ?? "").split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
                if !items.isEmpty { object[key] = .array(items.map { .string($0) }) }
            }
            return try command.parse(["--model=\(modelName)", "--json"] + RequestArguments.argv(object: object))
        }
    }

    /// The page `r` followed by the report of the command `parse` returns, run on the worker
    /// pool; a parse or run error becomes one sentence on the page and a 400.
    func reportPage(_ r: Report, _ parse: () throws -> any ModelCommand) async -> Response {
        var r = r
        do {
            let parsed = Handoff(value: try parse())
            let model = self.model
            let body = try await pool.run { () -> Report in
                var part = Report(title: "")
                try parsed.value.result(model: model, progress: nil).report?.html(into: &part)
                return part
            }
            for fragment in body.fragments { r.raw(fragment) }
            return Self.page(Pages.finish(r))
        } catch {
            r.raw("<p class=\"error\" id=\"error\">\(HTMLText.escape(errorSentence(error)))</p>")
            return Self.page(Pages.finish(r), status: .badRequest)
        }
    }

    /// `GET /compare?a=TEXT&b=TEXT` (several prompts per side: one per line), `&verify=N`, `&answer=`, `&wrong=`.
    func comparePage(_ request: Request) async -> Response {
        let q = Self.query(request)
        let form = "<form class=\"ask\" method=\"get\" action=\"/compare\">"
            + "<label>prompts A (one per line)<textarea name=\"a\" rows=\"3\" cols=\"36\">\(HTMLText.escape(q["a"] ?? ""))</textarea></label>"
            + "<label>prompts B<textarea name=\"b\" rows=\"3\" cols=\"36\">\(HTMLText.escape(q["b"] ?? ""))</textarea></label>"
            + Pages.field("verify", "verify top N by patching", q["verify"], placeholder: "0") + Pages.field("answer", "answer", q["answer"])
            + Pages.field("wrong", "wrong", q["wrong"]) + "<button type=\"submit\">Compare</button></form>"
        return await commandPage(request, title: "Compare", command: "diff", form: form,
                                 keys: ["verify", "answer", "wrong", "answer-id", "wrong-id", "pos", "top", "rank-by"], lists: ["a", "b"], flags: ["no-bos"])
    }

    /// `GET /neurons?neuron=L:I` (or `&hook=&index=`) over the server's `--corpus` (or `&corpus=PATH`).
    func neuronsPage(_ request: Request, corpus: String?) async -> Response {
        let q = Self.query(request)
        let form = "<form class=\"ask\" method=\"get\" action=\"/neurons\">" + Pages.field("neuron", "neuron (layer:index)", q["neuron"], placeholder: "0:3")
            + Pages.field("hook", "or hook", q["hook"]) + Pages.field("layer", "layer", q["layer"]) + Pages.field("index", "index", q["index"])
            + Pages.field("top", "examples", q["top"], placeholder: "20") + (corpus == nil ? Pages.field("corpus", "corpus file", q["corpus"]) : "")
            + "<button type=\"submit\">Find</button></form>"
        let extra: [String: JSONValue] = corpus.map { ["corpus": .string($0)] } ?? [:]
        return await commandPage(request, title: "Neurons", command: "neurons", form: form,
                                 keys: ["neuron", "hook", "layer", "index", "top", "context", "max-docs", "max-tokens"] + (corpus == nil ? ["corpus"] : []),
                                 flags: ["lowest"], extra: extra)
    }
}

extension ExplorerServer {
    /// `GET /browse?head=L,H` (`&mode=zero|mean`, `&top=`, `&max-docs=`) over the server's `--corpus`
    /// (or `&corpus=PATH`): the tokens whose loss the head changes most when ablated.
    func browsePage(_ request: Request, corpus: String?) async -> Response {
        let q = Self.query(request)
        var r = Report(title: "Browse examples", meta: [("model", modelName)] + (corpus.map { [("corpus", $0)] } ?? []))
        r.raw("<form class=\"ask\" method=\"get\" action=\"/browse\">" + Pages.field("head", "head (L,H or L1H0)", q["head"], placeholder: "1,0")
              + Pages.field("mode", "ablation (zero or mean)", q["mode"], placeholder: "zero") + Pages.field("top", "examples each way", q["top"], placeholder: "20")
              + (corpus == nil ? Pages.field("corpus", "corpus file", q["corpus"]) : "") + "<button type=\"submit\">Browse</button></form>")
        guard let headText = q["head"], !headText.isEmpty else { return Self.page(Pages.finish(r)) }
        do {
            let head = try HeadIndex(parsing: headText.replacingOccurrences(of: ",", with: "."))
            guard let path = corpus ?? q["corpus"].flatMap({ $0.isEmpty ? nil : $0 }) else {
                throw MechanicError.invalidArgument("give a corpus: serve --corpus FILE, or corpus= in the page's address")
            }
            guard let mode = AblationMode(rawValue: q["mode"].flatMap { $0.isEmpty ? nil : $0 } ?? "zero") else {
                throw MechanicError.invalidArgument("mode \(q["mode"] ?? ""): give zero or mean")
            }
            let top = try q["top"].flatMap { $0.isEmpty ? nil : $0 }.map { t -> Int in
                guard let v = Int(t) else { throw MechanicError.invalidArgument("top '\(t)' is not a number") }
                return v
            } ?? 20
            let model = self.model
            let browse = try await pool.run { () -> AblationBrowse in
                var reader = try CorpusReader(url: URL(fileURLWithPath: path))
                let bos = model.config.defaultPrependBOS ? model.bosTokenId : nil
                return try AblationBrowse.run(model: model, layer: head.layer, head: head.head, corpus: &reader, mode: mode, top: top, bos: bos)
            }
            r.add(browse)
            return Self.page(Pages.finish(r))
        } catch {
            r.raw("<p class=\"error\" id=\"error\">\(HTMLText.escape(errorSentence(error)))</p>")
            return Self.page(Pages.finish(r), status: .badRequest)
        }
    }
}
