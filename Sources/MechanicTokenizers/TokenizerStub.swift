import Foundation

// Temporary stand-in until the tokenizer branch lands (same public surface).
public final class Tokenizer: @unchecked Sendable {
    public static func load(directory: URL) throws -> Tokenizer { Tokenizer() }
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] { [] }
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String { "" }
    public func tokenString(_ id: Int) -> String { "" }
    public func id(of token: String) -> Int? { nil }
    public var vocabSize: Int { 0 }
    public var bosTokenId: Int? { nil }
    public var eosTokenId: Int? { nil }
    public var padTokenId: Int? { nil }
    public var unkTokenId: Int? { nil }
    public var bosToken: String? { nil }
    public var addsBosToken: Bool { false }
}
