import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// A model-free stand-in for a GPT-2-style tokenizer: a token is a word with its leading space or
/// one punctuation character; words in `split` are two tokens. Ids are a hash of the piece;
/// prompts get BOS = 0 first.
enum WordTokenizer {
    static let split: Set<String> = ["Bartholomew", " Bartholomew"]

    static func pieces(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            if ch == " " || ch.isPunctuation {
                if !current.isEmpty, current != " " { out.append(current); current = "" }
                if ch.isPunctuation { out.append(String(ch)) } else { current = " " }
            } else {
                current.append(ch)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out.flatMap { split.contains($0) ? [String($0.prefix($0.count / 2)), String($0.dropFirst($0.count / 2))] : [$0] }
    }

    static func id(_ piece: String) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in piece.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return 1 + Int(h % 1_000_000)
    }

    static let tokenizer = PromptTokenizer(encodePrompt: { [0] + pieces($0).map(id) }, encodePiece: { pieces($0).map(id) })
}

@Suite struct DatasetGeneratorTests {
    @Test func sameSeedSameFileDifferentSeedDifferentFile() throws {
        let spec = IOIDataset.spec()
        let a = try PairGenerator.generate(spec, count: 50, seed: 11, tokenizer: WordTokenizer.tokenizer)
        let b = try PairGenerator.generate(spec, count: 50, seed: 11, tokenizer: WordTokenizer.tokenizer)
        let c = try PairGenerator.generate(spec, count: 50, seed: 12, tokenizer: WordTokenizer.tokenizer)
        #expect(PromptPair.jsonl(a.pairs) == PromptPair.jsonl(b.pairs))
        #expect(PromptPair.jsonl(a.pairs) != PromptPair.jsonl(c.pairs))
        #expect(a.pairs.count == 50 && a.report.kept == 50)
        // Unlike TransformerLens's IOIDataset (which re-seeds per sample), the prompts differ.
        #expect(Set(a.pairs.map(\.clean)).count == 50)
    }

    /// The first pairs for seed 0, computed independently (a Python re-implementation of SplitMix64,
    /// the bounded draw and the slot order) — the portable-stream guarantee.
    @Test func pinnedIOIPairsForSeedZero() throws {
        let r = try PairGenerator.generate(IOIDataset.spec(), count: 3, seed: 0, tokenizer: WordTokenizer.tokenizer)
        let expected = [
            ("Friends Tom and Alice found a cake at the garden. Tom gave it to",
             "Friends Ryan and William found a cake at the garden. Julia gave it to", " Alice", " Tom"),
            ("Then, Steve and Rachel were working at the park. Rachel decided to give a letter to",
             "Then, Carl and Jason were working at the park. Andy decided to give a letter to", " Steve", " Rachel"),
            ("When Kyle and Thomas got a gift at the cafe, Thomas decided to give it to",
             "When Helen and Ruth got a gift at the cafe, Edward decided to give it to", " Kyle", " Thomas"),
        ]
        #expect(r.pairs.map { [$0.clean, $0.corrupt, $0.answer, $0.wrong] } == expected.map { [$0.0, $0.1, $0.2, $0.3] })
    }

    @Test func ioiPairsHaveEqualLengthsAndTheRightNames() throws {
        for corruption in IOIDataset.Corruption.allCases {
            let r = try PairGenerator.generate(IOIDataset.spec(corruption: corruption), count: 200, seed: 3, tokenizer: WordTokenizer.tokenizer)
            #expect(r.pairs.count == 200)
            for p in r.pairs {
                #expect(p.cleanTokens.count == p.corruptTokens.count)
                #expect(p.cleanTokens.first == 0)
                #expect(p.answerId == WordTokenizer.id(p.answer) && p.wrongId == WordTokenizer.id(p.wrong))
                let io = String(p.answer.dropFirst()), s = String(p.wrong.dropFirst())
                #expect(io != s)
                // The clean prompt names IO once and S twice; it ends where IO is predicted.
                let cleanWords = p.clean.split(whereSeparator: { !$0.isLetter }).map(String.init)
                #expect(cleanWords.filter { $0 == io }.count == 1 && cleanWords.filter { $0 == s }.count == 2)
                let corruptWords = p.corrupt.split(whereSeparator: { !$0.isLetter }).map(String.init)
                let names = Set(IOIDataset.names)
                switch corruption {
                case .abc:
                    // Three fresh names, all different, none of them IO or S.
                    let fresh = corruptWords.filter { names.contains($0) && !cleanWords.contains($0) }
                    #expect(Set(fresh).count == 3 && !corruptWords.contains(io) && !corruptWords.contains(s), "\(p.corrupt)")
                case .swap:
                    // The two names exchanged everywhere.
                    let swapped = cleanWords.map { $0 == io ? s : ($0 == s ? io : $0) }
                    #expect(corruptWords == swapped)
                }
            }
        }
    }

    @Test func abbaAndBabaTemplates() throws {
        #expect(IOIDataset.abbaTemplates[0] == "When [A] and [B] went to the [PLACE], [B] gave a [OBJECT] to")
        #expect(IOIDataset.babaTemplates[0] == "When [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to")
        #expect(IOIDataset.abcTemplate(IOIDataset.babaTemplates[1]) == "Then, [X] and [Y] went to the [PLACE]. [Z] gave a [OBJECT] to")
        let abba = try PairGenerator.generate(IOIDataset.spec(order: .abba), count: 20, seed: 1, tokenizer: WordTokenizer.tokenizer)
        let baba = try PairGenerator.generate(IOIDataset.spec(order: .baba), count: 20, seed: 1, tokenizer: WordTokenizer.tokenizer)
        // ABBA: the first name is the IO; BABA: the first name is the subject.
        for p in abba.pairs { #expect(firstName(p.clean) == String(p.answer.dropFirst())) }
        for p in baba.pairs { #expect(firstName(p.clean) == String(p.wrong.dropFirst())) }
        #expect(Set(IOIDataset.names).count == IOIDataset.names.count)
    }

    func firstName(_ s: String) -> String? {
        let names = Set(IOIDataset.names)
        return s.split(whereSeparator: { !$0.isLetter }).map(String.init).first { names.contains($0) }
    }

    /// Words ["cat", "dog", "Bartholomew"] (the last is two tokens) in clean/corrupt slots that must
    /// differ: of the 6 ordered pairs only (cat, dog) and (dog, cat) have equal lengths.
    static let wordSpec = PairTemplateSpec(lists: ["WORD": ["cat", "dog", "Bartholomew"]],
                                           templates: [PairTemplate(clean: "I saw the [W] today", corrupt: "I saw the [V] today")],
                                           slots: ["W": .list("WORD"), "V": .list("WORD")], answer: " and", wrong: " but")

    @Test func unequalLengthsAreDroppedAndCounted() throws {
        let r = try PairGenerator.generate(Self.wordSpec, count: 2, seed: 5, tokenizer: WordTokenizer.tokenizer)
        #expect(Set(r.pairs.map(\.clean)) == ["I saw the cat today", "I saw the dog today"])
        #expect(r.pairs.allSatisfy { $0.cleanTokens.count == $0.corruptTokens.count })
        // Replay the same candidates: each one with Bartholomew on one side is a length mismatch,
        // each repeat of a kept pair a duplicate.
        var random = PortableRandom(seed: 5)
        var mismatches = 0, duplicates = 0
        var kept = Set<String>()
        for _ in 0..<r.report.attempts {
            let (clean, corrupt, _, _, _) = try PairGenerator.draw(Self.wordSpec, &random)
            if clean.contains("Bartholomew") != corrupt.contains("Bartholomew") { mismatches += 1 } else if !kept.insert(clean).inserted { duplicates += 1 }
        }
        #expect(mismatches > 0)
        #expect(r.report.dropped[.lengthMismatch] == mismatches)
        #expect((r.report.dropped[.duplicate] ?? 0) == duplicates)
        #expect(r.report.attempts == 2 + mismatches + duplicates)
        #expect(r.report.examples[.lengthMismatch].map { $0.contains("Bartholomew") && $0.contains("7") && $0.contains("6") } == true)
        #expect(r.report.summary.contains("dropped \(mismatches) length_mismatch"))

        // More pairs than exist: stops after maxAttempts with what it has, and says so.
        let more = try PairGenerator.generate(Self.wordSpec, count: 5, seed: 5, tokenizer: WordTokenizer.tokenizer, maxAttempts: 60)
        #expect(more.pairs.count == 2 && more.report.attempts == 60 && more.report.kept == 2)
        #expect(more.report.droppedTotal == 58)
        #expect(more.report.summary.contains("only 2 of 5"))
    }

    @Test func multiTokenAndEqualAnswersAreDropped() throws {
        var spec = Self.wordSpec
        spec.templates = [PairTemplate(clean: "I saw the [W] today", corrupt: "I saw the [W] now")]
        spec.answer = " [W]"
        let r = try PairGenerator.generate(spec, count: 2, seed: 9, tokenizer: WordTokenizer.tokenizer, maxAttempts: 40)
        #expect(r.pairs.count == 2)
        #expect((r.report.dropped[.answerNotSingleToken] ?? 0) > 0)
        #expect(r.pairs.allSatisfy { $0.answer != " Bartholomew" })
        spec.answer = " but"
        let same = try PairGenerator.generate(spec, count: 1, seed: 9, tokenizer: WordTokenizer.tokenizer, maxAttempts: 5)
        #expect(same.pairs.isEmpty && same.report.dropped[.answerEqualsWrong] == 5)
    }

    @Test func slotsAreParsedFilledAndValidated() throws {
        #expect(PairTemplateSpec.slotNames(in: "When [A] and [B_2] went to [place] [PLACE], [A]") == ["A", "B_2", "PLACE", "A"])
        #expect(PairTemplateSpec.fill("[A] met [B]; [C] stays", ["A": "Ann", "B": "[A]"]) == "Ann met [A]; [C] stays")
        let json = #"""
        {"lists": {"NAME": ["Ann", "Bo"]},
         "templates": ["[A] met [B] at the [PLACE]", {"clean": "[B] met [A]", "corrupt": "[A] met [B]", "name": "t2"}],
         "slots": {"A": "NAME", "B": "NAME", "PLACE": ["zoo"]},
         "answer": " [A]", "wrong": " [B]", "swap": [["A", "B"]]}
        """#
        let spec = try PairTemplateSpec.parse(json: Data(json.utf8))
        #expect(spec.templates[1] == PairTemplate(clean: "[B] met [A]", corrupt: "[A] met [B]", name: "t2"))
        let r = try PairGenerator.generate(spec, count: 4, seed: 2, tokenizer: WordTokenizer.tokenizer)
        #expect(Set(r.pairs.map(\.clean)) == ["Ann met Bo at the zoo", "Bo met Ann at the zoo", "Bo met Ann", "Ann met Bo"])
        for p in r.pairs where p.clean.hasSuffix("zoo") {
            // swap: corrupt = clean with the two names exchanged; answer is clean's [A]
            #expect(p.corrupt == (p.clean.hasPrefix("Ann") ? "Bo met Ann at the zoo" : "Ann met Bo at the zoo"))
            #expect(p.answer == " " + (p.clean.hasPrefix("Ann") ? "Ann" : "Bo"))
        }
        for p in r.pairs where !p.clean.hasSuffix("zoo") {
            // explicit corrupt template, then the swap: "[A] met [B]" with A and B exchanged = the clean text
            #expect(p.corrupt == p.clean)
        }
        let bad: [(String, String)] = [
            (#"{"answer": " x", "wrong": " y"}"#, "templates"),
            (#"{"templates": ["[Q] x"], "answer": " x", "wrong": " y"}"#, "slot [Q]"),
            (#"{"templates": ["[A] [B] [C]"], "lists": {"N": ["a", "b"]}, "slots": {"A": "N", "B": "N", "C": "N"}, "answer": "x", "wrong": "y"}"#, "list N"),
            (#"{"templates": ["[A]"], "slots": {"A": "NAMES"}, "answer": "x", "wrong": "y"}"#, "NAMES"),
        ]
        for (text, mention) in bad {
            let error = #expect(throws: MechanicError.self) { try PairTemplateSpec.parse(json: Data(text.utf8)) }
            #expect(error.map { "\($0)".contains(mention) } == true, "\(String(describing: error)) should mention \(mention)")
        }
    }
}

@Suite struct DatasetJSONLTests {
    @Test func linesHaveTheDocumentedKeysInOrder() throws {
        let p = PromptPair(clean: "A \"quoted\" line\nwith é", corrupt: "x\\y\t", answer: " Mary", wrong: " John",
                           cleanTokens: [0, 5, 6], corruptTokens: [0, 7, 8], answerId: 42, wrongId: 43)
        #expect(p.jsonLine == #"{"clean":"A \"quoted\" line\nwith é","corrupt":"x\\y\t","answer":" Mary","wrong":" John","clean_tokens":[0,5,6],"corrupt_tokens":[0,7,8],"answer_id":42,"wrong_id":43}"#)
        #expect(DatasetJSON.quote("\u{1}/") == #""\u0001/""#)
        let back = try PromptPair.readJSONL(Data((PromptPair.jsonl([p, p]) + "\n").utf8))
        #expect(back == [p, p])
        // Standard JSON readers agree.
        let object = try JSONSerialization.jsonObject(with: Data(p.jsonLine.utf8)) as? [String: Any]
        #expect(object?["clean"] as? String == p.clean && object?["wrong_id"] as? Int == 43)
    }

    @Test func draftsAreTokenizedCheckedAndReportedByLine() throws {
        let text = """
        {"clean": "The cat sat", "corrupt": "The dog sat", "answer": " down", "wrong": " up"}

        {"clean": "The cat sat", "corrupt": "The Bartholomew sat", "answer": " down", "wrong": " up"}
        {"clean": "A b", "corrupt": "C d", "answer": " e", "wrong": " f", "clean_tokens": [0, 1, 2], "corrupt_tokens": [0, 3, 4], "answer_id": 9, "wrong_id": 10}
        """
        let drafts = try PromptPairDraft.readJSONL(Data(text.utf8))
        #expect(drafts.map(\.line) == [1, 3, 4])
        let r = try PairGenerator.tokenize(drafts, tokenizer: WordTokenizer.tokenizer)
        #expect(r.pairs.count == 2 && r.report.dropped == [.lengthMismatch: 1])
        #expect(r.report.examples[.lengthMismatch]?.hasPrefix("line 3:") == true)
        #expect(r.pairs[0].cleanTokens == [0] + ["The", " cat", " sat"].map(WordTokenizer.id))
        #expect(r.pairs[1].cleanTokens == [0, 1, 2] && r.pairs[1].answerId == 9)
        #expect(throws: MechanicError.self) { try PromptPairDraft.readJSONL(Data(#"{"clean": "x", "corrupt": "y", "answer": "z"}"#.utf8)) }
        #expect(throws: MechanicError.self) { try PromptPair.readJSONL(Data(#"{"clean": "x", "corrupt": "y", "answer": "z", "wrong": "w"}"#.utf8)) }
    }
}

/// With the real GPT-2 tokenizer (once the tokenizer module is merged): every built-in name is one
/// token, so no IOI pair is dropped.
@Suite struct DatasetGPT2TokenizerTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/tokenizers/gpt2")
    static let tokenizer: Tokenizer? = {
        guard let t = try? Tokenizer.load(directory: directory), t.vocabSize > 0 else { return nil }
        return t
    }()

    @Test(.enabled(if: tokenizer != nil, "the GPT-2 tokenizer is not available (stub tokenizer or no files)"))
    func ioiWithGPT2DropsNothing() throws {
        let tok = try #require(Self.tokenizer)
        let r = try PairGenerator.generate(IOIDataset.spec(), count: 100, seed: 0, tokenizer: .tokenizer(tok))
        #expect(r.pairs.count == 100 && r.report.droppedTotal == 0, "\(r.report.summary)")
        #expect(r.pairs.allSatisfy { $0.cleanTokens.count == $0.corruptTokens.count && $0.cleanTokens.first == 50256 })
        #expect(r.pairs.allSatisfy { tok.tokenString($0.answerId) == "Ġ" + $0.answer.dropFirst() || tok.decode([$0.answerId]) == $0.answer })
    }
}

/// Issue 10 §4 trap 4a: generated datasets are patchable — every pair of a template has one length.
@Suite struct DatasetLengthTests {
    /// Two templates; the object is one token ("cat", "dog") or two ("Bartholomew"), the same on
    /// both sides, so clean and corrupted always match but a template's pairs may not.
    static let spec = PairTemplateSpec(lists: ["WORD": ["cat", "dog", "Bartholomew"], "NAME": ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay"]],
                                       templates: [PairTemplate(clean: "[A] saw the [W] today", corrupt: "[B] saw the [W] today"),
                                                   PairTemplate(clean: "Then [A] met a [W] near the big house", corrupt: "Then [B] met a [W] near the big house")],
                                       slots: ["A": .list("NAME"), "B": .list("NAME"), "W": .list("WORD")], answer: " and", wrong: " but")

    @Test func everyPairOfATemplateHasOneLength() throws {
        let any = try PairGenerator.generate(Self.spec, count: 40, seed: 2, tokenizer: WordTokenizer.tokenizer, lengths: .any)
        // Without the policy a template mixes lengths (the trap).
        #expect(Set(any.pairs.filter { $0.clean.hasPrefix("Then") }.map(\.cleanTokens.count)).count == 2)
        let r = try PairGenerator.generate(Self.spec, count: 40, seed: 2, tokenizer: WordTokenizer.tokenizer)
        #expect(r.pairs.count == 40)
        let lengths = Dictionary(grouping: r.pairs) { $0.clean.hasPrefix("Then") ? 1 : 0 }.mapValues { Set($0.map(\.cleanTokens.count)) }
        #expect(lengths[0]?.count == 1 && lengths[1]?.count == 1, "\(lengths)")
        #expect(r.pairs.allSatisfy { $0.cleanTokens.count == $0.corruptTokens.count })
        // Reported per template: template 0 is 6 or 7 tokens (BOS + 5 words, one maybe split), template 1 is 10 or 11.
        #expect(r.report.templateLengths[0] == lengths[0]?.first && r.report.templateLengths[1] == lengths[1]?.first)
        #expect(r.report.templateCounts[0, default: 0] + r.report.templateCounts[1, default: 0] == 40)
        #expect((r.report.dropped[.groupLength] ?? 0) > 0 && r.report.summary.contains("template 0 \(r.report.templateLengths[0] ?? 0) tokens"))
        let object = try JSONSerialization.jsonObject(with: ResultJSON.data(r.report)) as? [String: Any]
        let json = object?["template_lengths"] as? [String: Int]
        #expect(json?["1"] == r.report.templateLengths[1])
        // One length for the whole dataset: every kind can patch it.
        let one = try PairGenerator.generate(Self.spec, count: 20, seed: 2, tokenizer: WordTokenizer.tokenizer, lengths: .one)
        #expect(Set(one.pairs.map(\.cleanTokens.count)).count == 1 && one.pairs.count == 20)
    }
}
