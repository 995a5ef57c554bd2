#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
@testable import Mechanic

/// Reading config.json (not its values): syntax errors have a position, duplicate keys are named,
/// a FIFO or directory is refused at once, the size is bounded.
@Suite struct ConfigFileTests {
    private func withConfig(_ write: (URL) throws -> Void) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        try write(url)
        do { _ = try HFConfig(url: url); return "" } catch { return "\(error)".replacingOccurrences(of: url.path, with: "CONFIG") }
    }

    @Test func syntaxErrorsReportLineAndColumn() throws {
        let m = try withConfig { try Data("{\n  \"n_layer\": 2,\n  oops\n}".utf8).write(to: $0) }
        #expect(m.contains("CONFIG"))
        #expect(m.contains("not valid JSON at line 3, column 3: expected a string key in an object"), "\(m)")
    }

    @Test func duplicateKeysAreNamed() throws {
        let m = try withConfig { try Data(#"{"n_layer": 2, "n_layer": 12}"#.utf8).write(to: $0) }
        #expect(m.contains("line 1, column 16: the key \"n_layer\" appears twice in one object"), "\(m)")
    }

    @Test func topLevelMustBeAnObject() throws {
        let m = try withConfig { try Data("[1, 2]".utf8).write(to: $0) }
        #expect(m.contains("the top level is [1, 2], not a JSON object"), "\(m)")
    }

    @Test func fifoAndDirectoryAreRefusedNotDumped() throws {
        let fifo = try withConfig { #expect(mkfifo($0.path, 0o600) == 0) }
        #expect(fifo == "CONFIG is a FIFO (named pipe), not a regular file (expected a Hugging Face config.json)")
        let dir = try withConfig { try FileManager.default.createDirectory(at: $0, withIntermediateDirectories: false) }
        #expect(dir == "CONFIG is a directory, not a regular file (expected a Hugging Face config.json)")
        #expect(!dir.contains("NSCocoaErrorDomain"))
    }

    @Test func hugeConfigIsRefusedBeforeParsing() throws {
        let m = try withConfig { url in
            #expect(FileManager.default.createFile(atPath: url.path, contents: Data("{}".utf8)))
            let h = try FileHandle(forWritingTo: url)
            try h.truncate(atOffset: 50 << 20)
            try h.close()
        }
        #expect(m == "CONFIG has \(50 << 20) bytes, more than the \(16 << 20) bytes allowed for a Hugging Face config.json")
    }
}
