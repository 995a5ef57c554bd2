import Foundation
import Testing
@testable import MechanicTokenizers

@Test func smoke() throws {
    let root = URL(fileURLWithPath: "/work/shared/data/tokenizers")
    for name in ["gpt2", "pythia", "llama2"] {
        let t0 = Date()
        let tok = try Tokenizer.load(directory: root.appendingPathComponent(name))
        let dt = Date().timeIntervalSince(t0)
        let s = "Hello   world<|endoftext|> it's 12345 <s>x</s>  \n\n e\u{0301} \u{a0}a\u{3000}b"
        let ids = tok.encode(s)
        print(name, dt, ids, ids.map { tok.tokenString($0) }, tok.decode(ids), tok.addsBosToken)
        print(tok.encode("When Mary and John went to the store, John gave a drink to"), tok.encode("The opposite of tall is"))
    }
}
