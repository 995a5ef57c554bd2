import Foundation

extension TestFixtures {
    /// A temporary copy of fixture model `name` without its tokenizer files: symlinks to its
    /// config.json and model.safetensors (a checkpoint shipped without a tokenizer). `extra`
    /// files are written into it. Remove the directory when done.
    public static func bareModel(_ name: String, extra: [String: String] = [:]) throws -> URL {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("bare-\(name)-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        for file in ["config.json", "model.safetensors"] {
            try fm.createSymbolicLink(at: dir.appendingPathComponent(file), withDestinationURL: model(name).appendingPathComponent(file))
        }
        for (file, text) in extra { try Data(text.utf8).write(to: dir.appendingPathComponent(file)) }
        return dir
    }

    /// ../shared/data/tokenizers/<name>, the real tokenizer files (absent in a user's clone).
    public static func sharedTokenizer(_ name: String) -> URL? {
        let url = root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("shared/data/tokenizers/\(name)")
        if FileManager.default.fileExists(atPath: url.path) { return url }
        print("note: \(url.path) is absent; the test parts that need the real \(name) tokenizer are skipped")
        return nil
    }
}
