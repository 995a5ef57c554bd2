import Foundation
import Testing
import FixtureSupport
import ReportTestSupport
@testable import Mechanic
import MechanicAnalysis

/// The explorer's pages in headless Chromium (after their script ran): the values they show
/// equal the library's for the same input. Screenshots go to `$MECHANIC_SCREENSHOTS` when set.
@Suite(.serialized) struct ServeBrowserTests {
    static let gpt2 = CLI.model("gpt2-tiny")
    static let prompt = "The cat sat on the mat"

    @Test func promptPageShowsTheLibrarysNumbers() throws {
        guard Chromium.executable != nil else { print("skipped: no chromium"); return }
        let server = try ServeProcess(["--model", Self.gpt2])
        let url = server.url("/?prompt=The%20cat%20sat%20on%20the%20mat&head=1,2")
        let dom = try Browser.dom(url)
        let m = try TestFixtures.load("gpt2-tiny")
        let tokens = try m.toTokens(Self.prompt)
        let o = try PromptOverview.run(model: m, tokens: tokens)
        // Tokens with ids, BOS first.
        #expect(tokens.first == m.bosTokenId)
        for (i, id) in tokens.enumerated() { #expect(dom.contains("\(i) · \(id)"), "token \(i) id \(id)") }
        // Per-token loss and the top next tokens at every position.
        #expect(Browser.texts("class=\"loss\"", in: dom) == o.positions.dropLast().map { HTMLText.format($0.loss ?? .nan) })
        #expect(Browser.attributes("data-id", in: dom).compactMap(Int.init) == o.positions.flatMap { $0.top.map(\.id) })
        // The lens grid (answer: the model's top token) and the DLA section.
        let answer = try #require(o.answer)
        #expect(dom.contains("Logit lens of ") && dom.contains(" (id \(answer.id))</h2>"), "answer \(answer)")
        let finalProb = try #require(o.lens?.prob.last?.last)
        #expect(dom.contains(HTMLText.compact(finalProb)) || dom.contains(HTMLText.format(finalProb)), "\(finalProb)")
        #expect(dom.contains("Direct logit attribution"))
        // The script's attention view: head L1H2, focus on the last token.
        let p = try #require(o.patterns?[1][2])
        let last = tokens.count - 1
        let weights = Browser.attributes("data-weight", in: dom).compactMap(Double.init)
        #expect(weights.count == tokens.count, "\(weights)")
        for (k, w) in weights.enumerated() { #expect(abs(w - Double(p[last][k])) <= 1e-6, "key \(k): \(w) vs \(p[last][k])") }
        let best = p[last].indices.max { p[last][$0] < p[last][$1] } ?? -1
        #expect(Browser.attributes("data-best", in: dom) == ["\(best)"])
        #expect(dom.contains("data-ready=\"1\""))
        let png = try Browser.screenshot(url, name: "serve-prompt")
        #expect(Chromium.pngSize(png)?.width == 1100)
    }

    @Test func headPageShowsTheLibrarysNumbers() throws {
        guard Chromium.executable != nil else { print("skipped: no chromium"); return }
        let server = try ServeProcess(["--model", Self.gpt2])
        // The mapping `" cat":" dog", " sat":" mat"`, percent-encoded.
        let url = server.url("/head/1/2?prompt=The%20cat%20sat%20on%20the%20mat&mapping=%22%20cat%22:%22%20dog%22,%20%22%20sat%22:%22%20mat%22&mapping-k=10")
        let dom = try Browser.dom(url)
        let m = try TestFixtures.load("gpt2-tiny")
        let tokens = try m.toTokens(Self.prompt)
        let h = try HeadOverview.run(model: m, layer: 1, head: 2, tokens: tokens, sources: nil,
                                     mapping: TokenMapping(pairs: [(410, 362), (358, 403)]), mappingK: 10)
        let p = try #require(h.prompt)
        #expect(Browser.texts("class=\"dla\"", in: dom) == p.dla.map { HTMLText.format($0) })
        #expect(Browser.texts("class=\"loss-after\"", in: dom) == p.lossAfter.map { HTMLText.format($0) })
        // Mean ablation (over the prompt's positions: no --corpus) and the mapping score.
        #expect(Browser.texts("class=\"loss-mean\"", in: dom) == p.meanLossAfter.map { HTMLText.format($0) })
        #expect(dom.contains("mean over the prompt's \(tokens.count) positions"))
        let mapping = try #require(h.mapping)
        #expect(Browser.texts("class=\"mapping-rank\"", in: dom) == mapping.pairs.map { "\($0.rank)" })
        #expect(Browser.texts("id=\"mapping-topk\"", in: dom) == [HTMLText.format(Float(mapping.topKFraction))])
        #expect(Browser.texts("id=\"mapping-mean-rank\"", in: dom) == [HTMLText.format(Float(mapping.meanRank))])
        #expect(dom.contains(HTMLText.format(h.copyScore)))
        #expect(Browser.attributes("class=\"src\" data-id", in: dom).compactMap(Int.init) == h.ov.map(\.id))
        _ = try Browser.screenshot(url, name: "serve-head")
        // A head that does not exist: the page says so.
        let bad = try server.get("/head/7/0")
        #expect(bad.status == 400 && bad.text.contains("head L7H0 does not exist"))
    }

    @Test func patchPageRunsAJobAndDrawsItsResult() throws {
        guard Chromium.executable != nil else { print("skipped: no chromium"); return }
        let server = try ServeProcess(["--model", Self.gpt2])
        let url = server.url("/patch?clean-tokens=1,5,9,3,7&corrupt-tokens=1,5,8,3,7&answer-id=4&wrong-id=6&act=resid_pre&autostart=1")
        let dom = try Browser.dom(url)
        #expect(Browser.attributes("data-state", in: dom) == ["done"], "\(dom.suffix(2000))")
        // Progress came as server-sent events (EventSource), not polling.
        #expect(Browser.attributes("data-transport", in: dom) == ["events"], "\(dom.suffix(2000))")
        let cli = try CLI.json(try CLI.run(["patch", "--model", Self.gpt2, "--json", "--clean-tokens", "1,5,9,3,7", "--corrupt-tokens", "1,5,8,3,7",
                                            "--answer-id", "4", "--wrong-id", "6", "--act", "resid_pre"]))
        let values = (cli["values"] as? [[Double]] ?? []).flatMap { $0 }
        #expect(values.count == 10)
        // (JSONSerialization and the browser may parse the same decimal one ulp apart.)
        let shown = Browser.attributes("data-value", in: dom).compactMap(Double.init)
        #expect(shown.count == values.count && zip(shown, values).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) }, "\(shown) vs \(values)")
        _ = try Browser.screenshot(url, name: "serve-patch", height: 700)
    }

    @Test func comparePageShowsTheDiffOfTheCommand() throws {
        guard Chromium.executable != nil else { print("skipped: no chromium"); return }
        let server = try ServeProcess(["--model", Self.gpt2])
        let url = server.url("/compare?a=The%20cat%20sat&b=The%20dog%20sat&verify=2&answer-id=5&wrong-id=6")
        let dom = try Browser.dom(url)
        let cli = try CLI.json(try CLI.run(["diff", "--model", Self.gpt2, "--json", "--a", "The cat sat", "--b", "The dog sat",
                                            "--verify", "2", "--answer-id", "5", "--wrong-id", "6"]))
        let components = try #require(cli["components"] as? [[String: Any]])
        let top = try #require(components.first?["label"] as? String)
        #expect(dom.contains(top), "top component \(top)")
        let verified = try #require((cli["verification"] as? [String: Any])?["results"] as? [[String: Any]])
        #expect(verified.count == 2)
        for v in verified { #expect(dom.contains(v["label"] as? String ?? "?")) }
        _ = try Browser.screenshot(url, name: "serve-compare", height: 900)
    }

    @Test func neuronsPageShowsTheTopExamplesOfTheCorpus() throws {
        guard Chromium.executable != nil else { print("skipped: no chromium"); return }
        let corpus = try ServeAPITests.corpus()
        let server = try ServeProcess(["--model", Self.gpt2, "--corpus", corpus])
        let url = server.url("/neurons?neuron=0:3&top=3")
        let dom = try Browser.dom(url)
        let cli = try CLI.json(try CLI.run(["neurons", "--model", Self.gpt2, "--json", "--neuron", "0:3", "--top", "3", "--corpus", corpus]))
        let examples = try #require(cli["examples"] as? [[String: Any]])
        #expect(examples.count == 3)
        for e in examples {
            let value = try #require((e["value"] as? NSNumber)?.floatValue)
            #expect(dom.contains(HTMLText.format(value)) || dom.contains(HTMLText.compact(value)), "\(value)")
        }
        _ = try Browser.screenshot(url, name: "serve-neurons", height: 900)
    }

    @Test func browsePageListsTheLibrarysLossChanges() throws {
        guard Chromium.executable != nil else { print("skipped: no chromium"); return }
        let corpus = try ServeAPITests.corpus()
        let server = try ServeProcess(["--model", Self.gpt2, "--corpus", corpus])
        let url = server.url("/browse?head=1,2&top=4")
        let dom = try Browser.dom(url)
        let m = try TestFixtures.load("gpt2-tiny")
        var reader = try CorpusReader(url: URL(fileURLWithPath: corpus))
        let b = try AblationBrowse.run(model: m, layer: 1, head: 2, corpus: &reader, top: 4, bos: m.bosTokenId)
        #expect(b.documents == 3)
        #expect(Browser.texts("class=\"delta\"", in: dom) == (b.helps + b.hurts).map { HTMLText.format($0.delta) })
        // Each example opens on the head page.
        #expect(dom.contains("/head/1/2?tokens=" + b.helps[0].ids.map(String.init).joined(separator: ",")))
        _ = try Browser.screenshot(url, name: "serve-browse", height: 900)
        #expect(try server.get("/browse?head=9,0").status == 400)
    }
}
