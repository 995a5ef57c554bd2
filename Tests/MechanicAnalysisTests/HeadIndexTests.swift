import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// The one head spelling (`HeadIndex(parsing:)`), the head rankings and the shared JSON encoder.
@Suite struct HeadIndexTests {
    @Test func everySpellingOfAHeadParses() throws {
        for text in ["L9H6", "l9h6", "L9h6", "9.6", "9:6", " L9H6 "] {
            #expect(try HeadIndex(parsing: text) == HeadIndex(layer: 9, head: 6), "\(text)")
        }
        // Range checks belong to the analysis that uses the head (it knows the model).
        #expect(try HeadIndex(parsing: "-1:0") == HeadIndex(layer: -1, head: 0))
        #expect(try HeadIndex.parseList("L0H1,1.2,3:4") == [HeadIndex(layer: 0, head: 1), HeadIndex(layer: 1, head: 2), HeadIndex(layer: 3, head: 4)])
        for bad in ["", "L9", "H6", "L9H", "9", "9.6.1", "L9X6", "x.y", "L9H6H1"] {
            #expect(throws: MechanicError.self, "\(bad)") { try HeadIndex(parsing: bad) }
        }
        do { _ = try HeadIndex(parsing: "L9X6") } catch { #expect("\(error)".contains("'L9X6' is not a head; write L<layer>H<head>")) }
        #expect(HeadIndex(layer: 9, head: 6).description == "L9H6")
    }

    @Test func rankingsAreStrongestFirst() {
        let t = Tensor(shape: [2, 3], data: [0.1, .nan, 0.7, 0.3, 0.9, -1])
        let top = HeadRanking.top(t, count: 3)
        #expect(top.map(\.head.description) == ["L1H1", "L0H2", "L1H0"])
        #expect(top.map(\.score) == [0.9, 0.7, 0.3])
        // [L, H, L, H] composition scores: only earlier → later pairs, strongest first.
        var s = Tensor(zeros: [2, 2, 2, 2])
        s[0, 1, 1, 0] = 0.5; s[0, 0, 1, 1] = 0.2; s[1, 0, 1, 1] = 9  // the last is same-layer: never listed
        let ranked = HeadRanking.compositions(s)
        #expect(ranked.count == 4)
        #expect(ranked.prefix(2).map { "\($0.sender)→\($0.receiver) \($0.score)" } == ["L0H1→L1H0 0.5", "L0H0→L1H1 0.2"])
        #expect(HeadRanking.compositions(s, limit: 1).count == 1)
    }

    @Test func resultJSONSortsKeysAndWritesNullForNonFiniteScores() throws {
        let t = Tensor(shape: [1, 2], data: [0.5, .nan])
        #expect(try ResultJSON.string(HeadScoresResult(t)) == #"{"scores":[[0.5,null]]}"#)
        let scatter = NameMoverScatter(tokens: [1, 2], answer: 2, wrong: 3, answerPosition: 1, wrongPosition: nil, finalPosition: 1,
                                       points: [NameMoverPoint(layer: 0, head: 1, directEffect: 0.25, attnToAnswer: 1, attnToWrong: nil)])
        #expect(try ResultJSON.string(NameMoverResult(scatter)) == #"{"answer_id":2,"answer_pos":1,"final_pos":1,"heads":[{"attn_to_answer":1,"attn_to_wrong":null,"direct_effect":0.25,"head":1,"layer":0}],"tokens":[1,2],"wrong_id":3,"wrong_pos":null}"#)
    }
}
