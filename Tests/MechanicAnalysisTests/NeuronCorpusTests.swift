import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

@Suite struct NeuronCorpusTests {
    func file(_ name: String, _ content: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(content.utf8).write(to: url)
        return url
    }

    func all(_ reader: CorpusReader) throws -> [CorpusDocument] {
        var r = reader
        var docs: [CorpusDocument] = []
        while let d = try r.next() { docs.append(d) }
        return docs
    }

    @Test func linesSkipBlanksAndHandleCRLF() throws {
        let url = try file("c.txt", "first doc\r\n\n  \nsecond doc\nthird")
        let docs = try all(CorpusReader(url: url))
        #expect(docs.map(\.text) == ["first doc", "second doc", "third"])
        #expect(docs.map(\.index) == [0, 1, 2])
    }

    @Test func paragraphsAreSeparatedByBlankLines() throws {
        let url = try file("c.txt", "\n\npara one\nstill one\n\n\npara two\n")
        let docs = try all(CorpusReader(url: url, format: .paragraphs))
        #expect(docs.map(\.text) == ["para one\nstill one", "para two"])
    }

    @Test func jsonlTakesTextOrTokens() throws {
        let url = try file("c.jsonl", "{\"text\": \"hello \\\"world\\\"\"}\n\n{\"tokens\": [1, 2, 3], \"meta\": 1}\n")
        #expect(CorpusFormat.guess(url) == .jsonl)
        let docs = try all(CorpusReader(url: url))
        #expect(docs == [CorpusDocument(index: 0, text: "hello \"world\""), CorpusDocument(index: 1, tokens: [1, 2, 3])])
    }

    @Test func badJSONLinesAreReportedWithTheirLineNumber() throws {
        let url = try file("bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"oops\"}\n")
        var r = try CorpusReader(url: url)
        _ = try r.next()
        do {
            _ = try r.next()
            Issue.record("expected an error")
        } catch let e as MechanicError {
            #expect(e.description.contains("bad.jsonl line 2") && e.description.contains("txt"))
        }
        let url2 = try file("bad2.jsonl", "not json\n")
        #expect(throws: MechanicError.self) { _ = try all(CorpusReader(url: url2)) }
        let url3 = try file("bad3.jsonl", "{\"tokens\": [1, 2.5]}\n")
        #expect(throws: MechanicError.self) { _ = try all(CorpusReader(url: url3)) }
        let url4 = try file("bad4.jsonl", "{\"tokens\": [1, true]}\n")
        #expect(throws: MechanicError.self) { _ = try all(CorpusReader(url: url4)) }
        #expect(throws: MechanicError.self) { _ = try CorpusReader(url: URL(fileURLWithPath: "/nonexistent/corpus.txt")) }
    }

    @Test func readerStreamsAcrossBufferBoundaries() throws {
        // 3 MB of lines: the reader fills its 1 MB buffer several times; every line comes back intact.
        let line = String(repeating: "abcdefghij", count: 10)
        let n = 30_000
        let url = try file("big.txt", (0..<n).map { "\($0) \(line)" }.joined(separator: "\n"))
        var r = try CorpusReader(url: url)
        var count = 0
        while let d = try r.next() {
            #expect(d.text == "\(count) \(line)")
            count += 1
            if count == n / 2 {
                // Progress follows the lines handed out, not the bytes buffered.
                let f = r.fractionRead ?? 0
                #expect(f > 0.49 && f < 0.51, "fraction \(f) at half the lines")
            }
        }
        #expect(count == n && r.fractionRead == 1)
    }

    @Test func searchOverAFileCorpus() throws {
        let url = try file("c.jsonl", PlantedNeuron.documents.map { "{\"tokens\": \($0)}" }.joined(separator: "\n"))
        var corpus = try CorpusReader(url: url)
        let model = try PlantedNeuron.model()
        let r = try model.topActivatingExamples(.neuron(layer: 0, index: PlantedNeuron.neuron), corpus: &corpus,
                                                options: NeuronSearchOptions(topK: 5, bos: PlantedNeuron.bos))
        #expect(r.examples.map { [$0.document, $0.position] } == [[2, 3], [0, 2], [2, 17], [1, 1], [1, 0]])
        #expect(r.examples.first.map { $0.strings[$0.focus] } == "#7")  // no tokenizer: ids shown as #id
        #expect(r.examples.first?.strings.first == "#1")  // the window starts at the document start
    }
}
