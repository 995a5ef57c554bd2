import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// Library-level bounds (issue 10): every caller, not just the command line, gets these errors.
@Suite struct BadInputLimitsTests {
    @Test func generationLengthIsCheckedWithoutOverflow() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        #expect(throws: MechanicError.invalidArgument("the prompt's 2 tokens plus 9223372036854775807 new tokens exceed the model's context (n_ctx) of 64; ask for at most 62 new tokens")) {
            _ = try model.generate(TokenBatch([499, 279]), maxNewTokens: Int.max)
        }
        #expect(throws: MechanicError.invalidArgument("maxNewTokens must be ≥ 0, found -1")) {
            _ = try model.generate(TokenBatch([499, 279]), maxNewTokens: -1)
        }
        #expect(try model.generate(TokenBatch([499, 279]), maxNewTokens: 62).first?.count == 64)
    }

    @Test func anEmptyTokenTextIsNotASpace() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        #expect(throws: MechanicError.emptyInput("the token text is an empty string; give one token such as \" Paris\" (mind the leading space)")) {
            _ = try model.toSingleToken("")
        }
    }

    @Test func aRegexSpellingAnOptionalPointSwitchesItOn() throws {
        let model = try Fixtures.load("llama-tiny", processed: true)
        let tokens = TokenBatch([1, 5, 9])
        let (_, spelled) = try model.runWithCache(tokens, names: .regex("hook_(result|mlp_in)$"))
        #expect(Set(spelled.names) == ["blocks.0.attn.hook_result", "blocks.1.attn.hook_result", "blocks.0.hook_mlp_in", "blocks.1.hook_mlp_in"])
        let (_, exact) = try model.runWithCache(tokens, names: .names(["blocks.1.attn.hook_result"]))
        #expect(spelled["blocks.1.attn.hook_result"]?.data == exact["blocks.1.attn.hook_result"]?.data)
        // A pattern that does not spell them keeps to the points that fire anyway.
        let (_, everything) = try model.runWithCache(tokens, names: .regex("."))
        #expect(Set(everything.names) == Set(model.config.hookNames()))
    }

    @Test func aRegexMatchingNothingSuggestsTheClosestName() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        #expect(throws: MechanicError.invalidArgument("the names pattern 'blocks.1.hook_resid_pots' matches no hook point of this model (did you mean 'blocks.1.hook_resid_post'?)")) {
            _ = try model.runWithCache(TokenBatch([499, 279]), names: .regex("blocks.1.hook_resid_pots"))
        }
    }
}
