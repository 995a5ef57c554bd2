import Foundation
import Mechanic
import MechanicAnalysis

/// The explorer's pages: a report (the library's components, inline SVG) with a navigation bar,
/// a form, and `/explorer.js` for what moves.
enum Pages {
    static let extraCSS = """
    .nav{display:flex;gap:1em;padding:.5em 1em;background:#1d2939;}.nav a{color:#fff;text-decoration:none}
    form.ask{display:flex;flex-wrap:wrap;gap:.6em;align-items:end;margin:1em 0}form.ask label{display:flex;flex-direction:column;font-size:.85em}
    form.ask input[type=text]{min-width:14em}.attn-tokens{margin:.6em 0;line-height:2.2}.attn-tok{padding:.15em .3em;margin:0 1px;
    border:1px solid #d0d5dd;border-radius:3px;font-family:monospace;white-space:pre;cursor:default}.pred{font-family:monospace;white-space:pre;
    background:#eef4ff;border-radius:3px;padding:0 .25em;margin-right:.2em}table.heat td{font-family:monospace;padding:.2em .4em;cursor:pointer;text-align:right}
    .error{color:#b42318;font-weight:600}progress{width:24em}
    """

    /// `html` of a report with the navigation bar, the script and the body's data attributes.
    static func finish(_ report: Report, bodyData: [String: String] = [:]) -> String {
        var html = report.html
        let attrs = bodyData.sorted { $0.key < $1.key }.map { " data-\($0.key)=\"\(HTMLText.escape($0.value))\"" }.joined()
        let nav = "<div class=\"nav\"><a href=\"/\">Prompt</a><a href=\"/head/0/0\">Head</a><a href=\"/patch\">Patch</a><a href=\"/compare\">Compare</a><a href=\"/browse\">Browse</a><a href=\"/neurons\">Neurons</a></div>"
        html = html.replacingOccurrences(of: "<body>", with: "<body\(attrs)>" + nav)
        html = html.replacingOccurrences(of: "</style>", with: extraCSS + "</style>")
        html = html.replacingOccurrences(of: "self-contained: no network, no scripts", with: "mechanic serve: no network but this server")
        return html.replacingOccurrences(of: "</body>", with: "<script src=\"/explorer.js\"></script></body>")
    }

    static func field(_ name: String, _ label: String, _ value: String?, placeholder: String = "") -> String {
        "<label>\(HTMLText.escape(label))<input type=\"text\" name=\"\(name)\" value=\"\(HTMLText.escape(value ?? ""))\" placeholder=\"\(HTMLText.escape(placeholder))\"/></label>"
    }

    /// The prompt form, keeping what was asked.
    static func promptForm(_ query: [String: String], action: String = "/") -> String {
        "<form class=\"ask\" method=\"get\" action=\"\(action)\">" + field("prompt", "prompt", query["prompt"], placeholder: "The cat sat on the")
            + field("tokens", "or token ids", query["tokens"], placeholder: "1,5,9,3") + field("answer", "answer token", query["answer"], placeholder: " mat")
            + field("answer-id", "or answer id", query["answer-id"]) + field("pos", "DLA position", query["pos"], placeholder: "-1")
            + "<button type=\"submit\">Show</button></form>"
    }

    /// The prompt page: tokens, predictions and loss, logit-lens grid, DLA by layer and head,
    /// and the interactive attention view.
    static func prompt(model: String, query: [String: String], overview: PromptOverview?, attribution: AttributionReport?, error: String?) -> String {
        var r = Report(title: "Prompt", meta: [("model", model)] + (query["prompt"].map { [("prompt", $0)] } ?? []))
        r.raw(promptForm(query))
        if let error { r.raw("<p class=\"error\" id=\"error\">\(HTMLText.escape(error))</p>") }
        guard let overview else { return finish(r) }
        r.add(overview)
        if let attribution {
            r.heading("Direct logit attribution")
            r.add(attribution)
        }
        var data: [String: String] = [:]
        if overview.patterns != nil {
            r.heading("Attention, interactively")
            r.paragraph("Pick a head; hover a token to see where it attends (background) and what attends to it (underline).", note: true)
            r.raw("<div id=\"attn-view\"></div>")
            let json = ((try? ResultJSON.string(overview, keys: .snakeCase)) ?? "{}").replacingOccurrences(of: "</", with: "<\\/")
            r.raw("<script type=\"application/json\" id=\"overview-data\">\(json)</script>")
            if let head = query["head"] { data["head"] = head }
        }
        return finish(r, bodyData: data)
    }

    /// The patch page: a prompt pair, a family, a progress bar, cancel, and the result heatmap.
    static func patch(model: String, query: [String: String]) -> String {
        var r = Report(title: "Activation patching", meta: [("model", model)])
        let acts = ["resid_pre", "resid_mid", "attn_out", "mlp_out", "attn_head_out_all_pos", "block_every"]
        let chosen = query["act"] ?? "resid_pre"
        r.raw("<form class=\"ask\" id=\"patch-form\">"
              + field("clean-tokens", "clean token ids", query["clean-tokens"], placeholder: "1,5,9,3")
              + field("corrupt-tokens", "corrupted token ids", query["corrupt-tokens"], placeholder: "1,5,8,3")
              + field("clean", "or clean text", query["clean"]) + field("corrupt", "corrupted text", query["corrupt"])
              + field("answer-id", "answer id", query["answer-id"]) + field("wrong-id", "wrong id", query["wrong-id"])
              + field("answer", "or answer", query["answer"]) + field("wrong", "wrong", query["wrong"])
              + "<label>family<select name=\"act\">" + acts.map { "<option\($0 == chosen ? " selected=\"selected\"" : "")>\($0)</option>" }.joined()
              + "</select></label><button type=\"submit\">Patch</button><button type=\"button\" id=\"patch-cancel\" disabled=\"disabled\">Cancel</button></form>")
        r.raw("<p><progress id=\"patch-progress\" value=\"0\" max=\"1\"></progress> <span id=\"patch-status\">idle</span></p><div id=\"patch-result\"></div>")
        return finish(r, bodyData: query["autostart"] == nil ? [:] : ["autostart": "1"])
    }
}
