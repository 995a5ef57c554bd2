#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Testing
import Mechanic

/// The built binary never deletes or replaces what the user did not ask to be written as a new
/// file, never blocks on a FIFO input, and says what is wrong in one sentence.
@Suite struct OutputPathCLITests {
    /// A scratch copy of gpt2-tiny plus a spare directory, and a listing of everything in them.
    private func scratch() throws -> (root: URL, model: URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-outcli-\(UUID().uuidString)")
        let model = root.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: URL(fileURLWithPath: CLI.model("gpt2-tiny")), to: model)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("results"), withIntermediateDirectories: false)
        try Data("precious".utf8).write(to: root.appendingPathComponent("results/notes.txt"))
        return (root, model)
    }

    private func listing(_ root: URL) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.subpathsOfDirectory(atPath: root.path)) ?? [] {
            let path = root.appendingPathComponent(name).path
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            out[name] = isDir.boolValue ? Data("dir".utf8) : (FileManager.default.contents(atPath: path) ?? Data("special".utf8))
        }
        return out
    }

    private func refused(_ args: [String], in root: URL, mentions: String) throws {
        let before = listing(root)
        let r = try CLI.run(args)
        #expect(r.status != 0, "\(args) succeeded")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(args): \(r.stderr)")
        #expect(r.stderr.contains(mentions), "\(args): \(r.stderr)")
        #expect(!r.stderr.contains("NSCocoaErrorDomain") && !r.stderr.contains("UserInfo"))
        #expect(listing(root) == before, "\(args) changed the file system")
    }

    @Test func cacheOutNeverReplacesADirectoryTheModelOrAFIFO() throws {
        let (root, model) = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let fifo = root.appendingPathComponent("pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let link = root.appendingPathComponent("link-to-results").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: root.appendingPathComponent("results").path)
        let base = ["cache", "--model", model.path, "--tokens", "1,2", "--out"]
        try refused(base + [root.appendingPathComponent("results").path], in: root, mentions: "is a directory, not a regular file")
        try refused(base + [""], in: root, mentions: "--out is empty")
        try refused(base + [model.appendingPathComponent("model.safetensors").path], in: root, mentions: "is one of this command's inputs")
        try refused(base + [model.appendingPathComponent("config.json").path], in: root, mentions: "is one of this command's inputs")
        try refused(base + [fifo], in: root, mentions: "is a FIFO (named pipe), not a regular file")
        try refused(base + [link], in: root, mentions: "is a symbolic link to a directory")
        try refused(base + [root.appendingPathComponent("nowhere/x.safetensors").path], in: root, mentions: "does not exist")
        // An ordinary file that is not an input is replaced.
        let old = root.appendingPathComponent("old.safetensors")
        try Data("old".utf8).write(to: old)
        let r = try CLI.run(base + [old.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try SafeTensorsFile(url: old).integers("tokens") == [1, 2])
    }

    @Test func htmlReportNeverReplacesAnInputOrADirectory() throws {
        let (root, model) = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let base = ["lens", "--model", model.path, "--tokens", "1,2", "--html"]
        try refused(base + [root.appendingPathComponent("results").path], in: root, mentions: "--html")
        try refused(base + [model.appendingPathComponent("tokenizer.json").path], in: root, mentions: "is one of this command's inputs")
    }

    @Test func fifoAndDirectoryInputsAreErrorsNotHangs() throws {
        let (root, model) = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        let weights = model.appendingPathComponent("model.safetensors").path
        try FileManager.default.removeItem(atPath: weights)
        #expect(mkfifo(weights, 0o600) == 0)
        try refused(["predict", "--model", model.path, "--tokens", "1,2"], in: root, mentions: "is a FIFO (named pipe), not a regular file")
        try FileManager.default.removeItem(atPath: weights)
        try FileManager.default.copyItem(atPath: CLI.model("gpt2-tiny") + "/model.safetensors", toPath: weights)
        let config = model.appendingPathComponent("config.json").path
        try FileManager.default.removeItem(atPath: config)
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: false)
        try refused(["predict", "--model", model.path, "--tokens", "1,2"], in: root, mentions: "is a directory, not a regular file")
        // A corpus that never ends (/dev/zero) or is a directory is an error, not "0 documents".
        try FileManager.default.removeItem(atPath: config)
        try FileManager.default.copyItem(atPath: CLI.model("gpt2-tiny") + "/config.json", toPath: config)
        let neurons = ["neurons", "--model", model.path, "--neuron", "0:1", "--corpus"]
        try refused(neurons + ["/dev/zero"], in: root, mentions: "/dev/zero is a character device, not a regular file")
        try refused(neurons + [root.appendingPathComponent("results").path], in: root, mentions: "is a directory, not a regular file")
    }

    @Test func benchNeverWritesItsRandomCheckpointOverAnotherDirectory() throws {
        let (root, model) = try scratch()
        defer { try? FileManager.default.removeItem(at: root) }
        // A directory with a config.json but no model.safetensors (a sharded model, say).
        try FileManager.default.removeItem(at: model.appendingPathComponent("model.safetensors"))
        try refused(["bench", "forward", "--dir", model.path], in: root, mentions: "is not empty and holds no benchmark checkpoint")
        try refused(["bench", "llama7b", "--dir", model.path, "--layers", "1"], in: root, mentions: "is not empty and holds no benchmark checkpoint")
    }
}
