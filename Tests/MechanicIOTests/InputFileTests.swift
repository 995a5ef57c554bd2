#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
import MechanicIO

/// Inputs are classified before they are opened: a FIFO or a device is refused at once (opening a
/// FIFO would block forever, /dev/zero never ends), sizes are bounded, JSON errors have positions.
@Suite struct InputFileTests {
    @Test func fifoAndDirectoryAreRefusedWithoutBlocking() throws {
        let dir = try makeTempDir("input")
        defer { cleanUp(dir) }
        let fifo = dir.appendingPathComponent("model.safetensors").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(openError(URL(fileURLWithPath: fifo)) == .cannotOpen(file: fifo, reason: "it is a FIFO (named pipe), not a regular file"))
        let e = caught(InputFileError.self) { try InputFile.read(fifo, what: "a Hugging Face config.json") }
        #expect(e == .notRegular(path: fifo, what: "a Hugging Face config.json", kind: "a FIFO (named pipe)"))
        #expect(e?.description == "\(fifo) is a FIFO (named pipe), not a regular file (expected a Hugging Face config.json)")
        let d = caught(InputFileError.self) { try InputFile.read(dir.path, what: "a corpus") }
        #expect(d == .notRegular(path: dir.path, what: "a corpus", kind: "a directory"))
    }

    @Test func devicesAreRefused() throws {
        let e = caught(InputFileError.self) { try InputFile.read("/dev/zero", what: "a corpus") }
        #expect(e == .notRegular(path: "/dev/zero", what: "a corpus", kind: "a character device"))
        #expect(openError(URL(fileURLWithPath: "/dev/zero")) == .cannotOpen(file: "/dev/zero", reason: "it is a character device, not a regular file"))
    }

    @Test func sizeIsBoundedBeforeReading() throws {
        let dir = try makeTempDir("input")
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("config.json")
        try Data(repeating: 0x20, count: 100).write(to: url)
        let e = caught(InputFileError.self) { try InputFile.read(url.path, what: "a config", limit: 50) }
        #expect(e == .tooLarge(path: url.path, what: "a config", size: 100, limit: 50))
        #expect(try InputFile.read(url.path, what: "a config", limit: 100).count == 100)
        let missing = dir.appendingPathComponent("nope.json").path
        #expect(caught(InputFileError.self) { try InputFile.read(missing, what: "a config") } == .missing(path: missing, what: "a config"))
    }
}

/// The byte parser behind `JSONValue`: positions, duplicate keys, numbers, linear time.
@Suite struct JSONParserTests {
    private func error(_ text: String) -> JSONParseError? {
        caught(JSONParseError.self) { try JSONValue.parse(Data(text.utf8)) }
    }

    @Test func syntaxErrorsHaveLineAndColumn() {
        #expect(error("{\n  \"a\": 1,\n  \"b\" 2\n}")?.description == "line 3, column 7: expected ':' after a key")
        #expect(error("{\"a\": tru}")?.description == "line 1, column 7: invalid literal (expected true)")
        #expect(error("[1, 2")?.description == "line 1, column 6: unexpected end of the document inside an array")
        #expect(error("{} x")?.description == "line 1, column 4: unexpected data after the top-level value")
        #expect(error("01") != nil)
        #expect(error("\"\u{01}\"") != nil)
    }

    @Test func duplicateKeysAreNamed() {
        #expect(error("{\"n_layer\": 2,\n \"n_layer\": 3}")?.description == "line 2, column 2: the key \"n_layer\" appears twice in one object")
    }

    @Test func valuesKeepTheirKinds() throws {
        let v = try JSONValue.parse(Data(#"{"i": 3, "d": 3.5, "e": 1e30, "big": 123456789012345678901234, "b": true, "n": null, "s": "\u00e9\ud83d\ude00"}"#.utf8))
        let o = try #require(v.objectValue)
        #expect(o["i"] == .int(3))
        #expect(o["d"] == .double(3.5))
        #expect(o["e"] == .double(1e30))
        #expect(o["big"] == .double(123456789012345678901234))
        #expect(o["b"] == .bool(true))
        #expect(o["n"] == .null)
        #expect(o["s"] == .string("é😀"))
    }

    @Test func largeArraysParseWhole() throws {
        // 5 MB of numbers, every one read (how fast is a benchmark's business, not a test's:
        // a wall-clock limit fails on a loaded machine).
        let text = "[" + Array(repeating: "1.5", count: 1_249_999).joined(separator: ",") + ",2.25]"
        let v = try JSONValue.parse(Data(text.utf8))
        #expect(v.arrayValue?.count == 1_250_000)
        #expect(v.arrayValue?.first?.doubleValue == 1.5 && v.arrayValue?.last?.doubleValue == 2.25)
        let deep = String(repeating: "[", count: 100_000)
        #expect(error(deep)?.reason == "nesting deeper than 512 levels")
    }

    /// Keys are distinct by their bytes, kept in file order: U+1F77 and U+03AF are canonically
    /// equivalent (`String ==` calls them equal) but two different vocabulary entries.
    @Test func keysAreExactBytesInFileOrder() throws {
        let v = try JSONValue.parse(Data("{\"z\": 0, \"\u{1F77}\": 1, \"\u{03AF}\": 2}".utf8))
        let o = try #require(v.objectValue)
        #expect(o.keys == ["z", "\u{1F77}", "\u{03AF}"])
        #expect(o["\u{1F77}"] == .int(1) && o["\u{03AF}"] == .int(2))
        #expect(error("{\"\u{03AF}\": 1, \"\u{03AF}\": 2}")?.reason == "the key \"\u{03AF}\" appears twice in one object")
        // A two-string array is stored as a pair and equals the array it is.
        #expect(try JSONValue.parse(Data(#"["a", "b"]"#.utf8)) == .array([.string("a"), .string("b")]))
        #expect(error(#""\ud800""#)?.reason == "a lone surrogate in a \\u escape")
    }

    @Test func quotedContentIsEscapedAndCut() {
        #expect(ErrorText.quoted("a\"b\n") == #""a\"b\n""#)
        #expect(ErrorText.quoted(String(repeating: "x", count: 100)) == "\"" + String(repeating: "x", count: 60) + "…\"")
    }
}
