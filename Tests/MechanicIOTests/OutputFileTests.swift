#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
import MechanicIO

/// `OutputFile` never removes or replaces a directory, a device, a FIFO or an input; each refusal
/// is one sentence naming the option and the path, and the file system is unchanged afterwards.
@Suite struct OutputFileTests {
    /// Every path under `dir` with its kind and, for regular files, its bytes.
    private func snapshot(_ dir: URL) -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for name in (try? fm.subpathsOfDirectory(atPath: dir.path)) ?? [] {
            let path = dir.appendingPathComponent(name).path
            let info = FileIdentity.inspect(path)
            out[name] = info.kind == .regular ? "file:" + ((fm.contents(atPath: path)).map { $0.base64EncodedString() } ?? "?")
                : "\(info.kind) link:\(info.isSymlink)"
        }
        return out
    }

    private func writeRefused(_ path: String, in dir: URL) -> OutputFileError? {
        let before = snapshot(dir)
        let e = caught(OutputFileError.self) { try OutputFile(path, option: "--out").write(Data("new".utf8)) }
        #expect(snapshot(dir) == before, "the file system changed for \(path)")
        if let e {
            #expect(!e.description.contains("\n"))
            #expect(e.description.contains("--out"))
        }
        return e
    }

    @Test func refusesAnEmptyPath() throws {
        let e = caught(OutputFileError.self) { try OutputFile("", option: "--out") }
        #expect(e == .empty(option: "--out"))
        #expect(e?.description == "--out is empty; give the path of a file to write")
    }

    @Test func refusesADirectoryAndASymlinkToOne() throws {
        let dir = try makeTempDir("out")
        defer { cleanUp(dir) }
        let sub = dir.appendingPathComponent("results")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: sub.appendingPathComponent("keep.txt"))
        #expect(writeRefused(sub.path, in: dir) == .notAFile(option: "--out", path: sub.path, kind: "a directory"))
        let link = dir.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: sub.path)
        #expect(writeRefused(link.path, in: dir) == .notAFile(option: "--out", path: link.path, kind: "a symbolic link to a directory"))
        let dangling = dir.appendingPathComponent("dangling")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: dir.appendingPathComponent("nowhere").path)
        #expect(writeRefused(dangling.path, in: dir) == .danglingSymlink(option: "--out", path: dangling.path))
    }

    @Test func refusesAFIFOWithoutBlocking() throws {
        let dir = try makeTempDir("out")
        defer { cleanUp(dir) }
        let fifo = dir.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let e = writeRefused(fifo, in: dir)
        #expect(e == .notAFile(option: "--out", path: fifo, kind: "a FIFO (named pipe)"))
        #expect(e?.description == "--out \(fifo) is a FIFO (named pipe), not a regular file; give the path of a file to write (nothing was changed)")
    }

    @Test func refusesADevice() throws {
        let e = caught(OutputFileError.self) { try OutputFile("/dev/null", option: "--out").write(Data("x".utf8)) }
        #expect(e == .notAFile(option: "--out", path: "/dev/null", kind: "a character device"))
        #expect(FileIdentity.inspect("/dev/null").kind == .characterDevice)
    }

    @Test func refusesAMissingParentDirectory() throws {
        let dir = try makeTempDir("out")
        defer { cleanUp(dir) }
        let path = dir.appendingPathComponent("no/such/file.safetensors").path
        #expect(writeRefused(path, in: dir) == .noParentDirectory(option: "--out", path: path, parent: dir.appendingPathComponent("no/such").path))
    }

    @Test func refusesAnInputUnderAnySpelling() throws {
        let dir = try makeTempDir("out")
        defer { cleanUp(dir) }
        let model = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: false)
        let weights = model.appendingPathComponent("model.safetensors")
        try Data("weights".utf8).write(to: weights)
        // Listed as an input directory: the file inside is refused.
        let e = caught(OutputFileError.self) { try OutputFile(weights.path, option: "--out", inputs: [model.path]) }
        #expect(e == .isInput(option: "--out", path: weights.path, input: weights.path))
        // A hard link and a symlink to it are the same file.
        let hard = dir.appendingPathComponent("hard.safetensors")
        #expect(link(weights.path, hard.path) == 0)
        let soft = dir.appendingPathComponent("soft.safetensors")
        try FileManager.default.createSymbolicLink(atPath: soft.path, withDestinationPath: weights.path)
        for path in [hard.path, soft.path] {
            let e = writeRefused(path, in: dir)
            #expect(e == .isInput(option: "--out", path: path, input: weights.path))
            #expect(e?.description.contains("is the same file as the input \(weights.path)") == true)
        }
        #expect(try Data(contentsOf: weights) == Data("weights".utf8))
    }

    @Test func refusesAFileThisProcessMapped() throws {
        let dir = try makeTempDir("out")
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("in.safetensors")
        try writeRawSafeTensors(url, header: "{}", data: [])
        _ = try SafeTensorsFile(url: url)   // reading records it as an input
        #expect(writeRefused(url.path, in: dir) == .isInput(option: "--out", path: url.path, input: url.path))
        // A library write may replace a file the program loaded (it asked for exactly that path).
        var w = SafeTensorsWriter()
        w.add("tokens", int64: [7])
        try w.write(to: url)
        #expect(try SafeTensorsFile(url: url).integers("tokens") == [7])
    }

    @Test func replacesARegularFileAtomicallyAndCreatesNewOnes() throws {
        let dir = try makeTempDir("out")
        defer { cleanUp(dir) }
        let old = dir.appendingPathComponent("old.html")
        try Data("old".utf8).write(to: old)
        try OutputFile(old.path, option: "--html").write(Data("new".utf8))
        #expect(try Data(contentsOf: old) == Data("new".utf8))
        let fresh = dir.appendingPathComponent("fresh.html")
        try OutputFile(fresh.path, option: "--html").write(Data("hello".utf8))
        #expect(try Data(contentsOf: fresh) == Data("hello".utf8))
        // No temporary files are left behind, and a failed body leaves the old file as it was.
        struct Boom: Error {}
        #expect(throws: OutputFileError.self) {
            try OutputFile(old.path, option: "--html").write { _ in throw Boom() }
        }
        #expect(try Data(contentsOf: old) == Data("new".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["fresh.html", "old.html"])
    }

    @Test func safeTensorsWriterGoesThroughTheGuard() throws {
        let dir = try makeTempDir("out")
        defer { cleanUp(dir) }
        var w = SafeTensorsWriter()
        w.add("tokens", int64: [1, 2, 3])
        let e = caught(OutputFileError.self) { try w.write(to: dir) }
        #expect(e == .notAFile(option: "the output file", path: dir.path, kind: "a directory"))
        #expect(FileIdentity.inspect(dir.path).kind == .directory)
    }
}
