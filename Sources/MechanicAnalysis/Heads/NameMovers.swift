import Foundation
import Mechanic

/// One point of the name-mover scatter plot.
public struct NameMoverPoint: Sendable, Equatable {
    public var layer: Int
    public var head: Int
    /// The head's direct effect on `logit[answer] − logit[wrong]` at the final position: its
    /// `hook_result` there, through the final norm's cached scale (centred first for LayerNorm
    /// models), dotted with `W_U[:, answer] − W_U[:, wrong]` (times the final norm's weight when
    /// it is not folded in).
    public var directEffect: Float
    /// Attention from the final position to the answer token's position.
    public var attnToAnswer: Float
    /// Attention from the final position to the wrong token's position (S-inhibition/negative heads).
    public var attnToWrong: Float?
}

/// The scatter data and where it was measured.
public struct NameMoverScatter: Sendable {
    public var tokens: [Int]
    public var answer: Int
    public var wrong: Int
    public var answerPosition: Int
    public var wrongPosition: Int?
    public var finalPosition: Int
    /// Every head, layer-major.
    public var points: [NameMoverPoint]
}

extension HookedTransformer {
    /// Per head: direct effect on the answer-vs-wrong logit difference against attention to the
    /// answer (the IOI paper's name-mover plot: name movers sit at high attention and high effect).
    /// `answerPosition` defaults to the first occurrence of `answer` in `tokens` (TransformerLens's
    /// `get_token_position` "first"), `wrongPosition` to the first occurrence of `wrong` (nil when it
    /// does not occur). The final position is the last token.
    ///
    /// TransformerLens's `apply_ln_to_stack` leaves out the final norm's weight; for processed models
    /// (folded weights) the numbers agree, for unprocessed ones this includes it and is exact.
    public func nameMoverScatter(tokens: [Int], answer: Int, wrong: Int, answerPosition: Int? = nil,
                                 wrongPosition: Int? = nil) throws -> NameMoverScatter {
        let (L, H, D, P) = (config.nLayers, config.nHeads, config.dModel, tokens.count)
        for id in [answer, wrong] where !(0..<config.dVocab).contains(id) { throw MechanicError.tokenOutOfRange(id: id, dVocab: config.dVocab) }
        guard P >= 1 else { throw MechanicError.emptyInput("no tokens") }
        let aPos: Int
        if let answerPosition {
            guard (0..<P).contains(answerPosition) else {
                throw MechanicError.invalidArgument("answer position \(answerPosition) is outside the \(P)-token prompt")
            }
            aPos = answerPosition
        } else {
            guard let p = tokens.firstIndex(of: answer) else {
                throw MechanicError.tokenNotFound(token: pieceString(answer), inPrompt: pieceStrings(tokens))
            }
            aPos = p
        }
        let wPos: Int? = try wrongPosition.map { p in
            guard (0..<P).contains(p) else { throw MechanicError.invalidArgument("wrong position \(p) is outside the \(P)-token prompt") }
            return p
        } ?? tokens.firstIndex(of: wrong)

        var names = (0..<L).flatMap { ["blocks.\($0).attn.hook_result", "blocks.\($0).attn.hook_pattern"] }
        let hasFinalScale = config.normalization != .none
        if hasFinalScale { names.append("ln_final.hook_scale") }
        let cache = try forward(TokenBatch(tokens), options: ForwardOptions(cache: .names(names), logits: .none)).cache

        // The logit-difference direction in the residual stream after normalisation.
        var direction = [Float](repeating: 0, count: D)
        let V = config.dVocab
        for m in 0..<D {
            direction[m] = weights.W_U.data[m * V + answer] - weights.W_U.data[m * V + wrong]
            if let w = weights.lnFinalW { direction[m] *= w.data[m] }
        }
        let last = P - 1
        let scale = hasFinalScale ? try cache.require("ln_final.hook_scale").data[last] : 1  // [1, pos, 1]
        let center = config.normalization == .layerNorm || config.normalization == .layerNormPre
        var points: [NameMoverPoint] = []
        for l in 0..<L {
            let result = try cache.require("blocks.\(l).attn.hook_result")   // [1, pos, head, d_model]
            let pattern = try cache.require("blocks.\(l).attn.hook_pattern") // [1, head, q, k]
            for h in 0..<H {
                let o = (last * H + h) * D
                var x = Array(result.data[o..<(o + D)])
                if center {
                    let mean = x.reduce(0, +) / Float(D)
                    for m in 0..<D { x[m] -= mean }
                }
                var effect: Float = 0
                for m in 0..<D { effect += x[m] / scale * direction[m] }
                let row = (h * P + last) * P
                points.append(NameMoverPoint(layer: l, head: h, directEffect: effect, attnToAnswer: pattern.data[row + aPos],
                                             attnToWrong: wPos.map { pattern.data[row + $0] }))
            }
        }
        return NameMoverScatter(tokens: tokens, answer: answer, wrong: wrong, answerPosition: aPos, wrongPosition: wPos,
                                finalPosition: last, points: points)
    }
}
