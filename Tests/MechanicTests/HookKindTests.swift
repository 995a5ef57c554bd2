import Foundation
import Testing
@testable import Mechanic

/// `HookKind` / `HookName`: every hook point of every fixture model parses to its kind and layer
/// and prints back to the same name.
@Suite struct HookKindTests {
    static let models = ["gpt2-tiny", "gpt2-tiny-scaled", "pythia-tiny", "pythia-tiny-sequential", "llama-tiny", "qwen2-tiny"]
    static let everything = HookOptions(attnResult: true, splitQKVInput: true, attnIn: true, mlpIn: true)

    @Test(arguments: models)
    func everyHookNameRoundTrips(_ name: String) throws {
        let model = try Fixtures.load(name, processed: true)
        let names = model.config.hookNames(Self.everything)
        #expect(names.count > 20)
        for n in names {
            let parsed = try #require(HookName(n), "\(name): \(n) does not parse")
            #expect(parsed.name == n)
            #expect(HookKind(name: n) == parsed.kind)
            #expect(parsed.kind.name(layer: parsed.layer) == n)
            // Block points carry the layer of their `blocks.{l}.` prefix; global points none.
            if n.hasPrefix("blocks.") {
                #expect(parsed.kind.isPerBlock && n.hasPrefix("blocks.\(parsed.layer ?? -1)."), "\(n)")
            } else {
                #expect(!parsed.kind.isPerBlock && parsed.layer == nil, "\(n)")
            }
        }
        // Every block kind the model fires appears once per layer.
        let kinds = Set(names.compactMap(HookKind.init(name:)))
        for kind in kinds where kind.isPerBlock {
            #expect(names.filter { HookKind(name: $0) == kind }.count == model.config.nLayers, "\(kind)")
        }
    }

    @Test func shortNamesAreTransformerLensKinds() {
        #expect(HookKind.q.rawValue == "attn.hook_q" && HookKind.q.shortName == "q" && HookKind.q.hookAttribute == "hook_q")
        #expect(HookKind.residPre.name(layer: 3) == "blocks.3.hook_resid_pre")
        #expect(HookKind.ln2Scale.name(layer: 1) == "blocks.1.ln2.hook_scale" && HookKind.ln2Scale.shortName == "scale")
        #expect(HookKind.lnFinalNormalized.name(layer: nil) == "ln_final.hook_normalized")
        // Every kind agrees with TransformerLens's get_act_name (actName).
        for kind in HookKind.allCases where kind != .tokens {
            let sub = kind == .ln2Scale || kind == .ln2Normalized ? "ln2" : nil
            let layer = kind.isPerBlock ? 2 : nil
            #expect(actName(kind.shortName, layer: layer, sub: sub) == kind.name(layer: layer), "\(kind)")
        }
    }

    @Test func malformedNamesDoNotParse() {
        for bad in ["", "hook_q", "attn.hook_q", "blocks.x.hook_resid_pre", "blocks.03.hook_resid_pre", "blocks.1.hook_embed",
                    "blocks.1.hook_resid_pots", "blocks.1", "blocks..hook_resid_pre", "ln_final.hook_scale.x", "blocks.-1.hook_resid_pre"] {
            #expect(HookName(bad) == nil, "\(bad)")
        }
        #expect(HookName("hook_embed") == HookName(.embed))
        #expect(HookName("blocks.12.mlp.hook_post") == HookName(.post, layer: 12))
    }
}
