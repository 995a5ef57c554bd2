import Foundation

/// Which files of a Hugging Face model repo Mechanic needs: the config, the tokenizer files, and
/// the safetensors weights (one file, or an index and its shards).
enum ModelFiles {
    static let config = "config.json"
    static let singleWeights = "model.safetensors"
    static let index = "model.safetensors.index.json"
    /// Tokenizer files; a repo has some subset (GPT-2: vocab/merges and tokenizer.json; Llama:
    /// tokenizer.model and tokenizer.json).
    static let tokenizer = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                            "vocab.json", "merges.txt", "tokenizer.model"]
    /// Fetched when the repo has them; nothing fails without them.
    static let optional = ["generation_config.json"]
    /// Files a tokenizer can be built from.
    static let tokenizerCores = ["tokenizer.json", "vocab.json", "tokenizer.model"]
    /// Weight formats Mechanic does not read, named in the error when a repo has only these.
    static let otherWeightSuffixes = [".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx", ".tflite", ".ot"]

    /// The files `directory` still lacks. `has` says whether a file is present; `absent` whether
    /// the cache records that the repo has no such file. Not `strict`: only what loading needs
    /// (config, a tokenizer, complete weights). `strict`: also every tokenizer and optional file
    /// not known to be absent, so that a cache another tool filled partly is completed once.
    static func missing(in directory: URL, weights: Bool, strict: Bool,
                        absent: (String) -> Bool) -> [String] {
        let fm = FileManager.default
        func has(_ file: String) -> Bool { fm.fileExists(atPath: directory.appendingPathComponent(file).path) }
        var missing: [String] = []
        if !has(config) { missing.append(config) }
        if !tokenizerCores.contains(where: has), !tokenizerCores.allSatisfy(absent) {
            missing.append("tokenizer.json")
        }
        if has("vocab.json"), !has("merges.txt"), !absent("merges.txt") { missing.append("merges.txt") }
        if weights, !has(singleWeights) {
            if has(index) {
                if let map = try? Checkpoint.weightMap(directory.appendingPathComponent(index)) {
                    missing += Set(map.values).sorted().filter { !has($0) }
                } else {
                    missing.append(index)
                }
            } else {
                missing.append(singleWeights)
            }
        }
        if strict {
            for file in tokenizer + optional where !has(file) && !absent(file) && !missing.contains(file) {
                missing.append(file)
            }
        }
        return missing
    }

    /// What to download from a repo whose files are `siblings`: the files, and the candidates the
    /// repo lacks (recorded in `.no_exist`). Shards are added after the index is downloaded.
    static func select(from siblings: [String], weights: Bool, repo: String, revision: String) throws -> (files: [String], absent: [String]) {
        let present = Set(siblings)
        guard present.contains(config) else {
            throw ModelResolveError.missingInRepo(repo: repo, revision: revision, file: config)
        }
        var files = [config]
        files += (optional + tokenizer).filter(present.contains)
        let absent = (optional + tokenizer).filter { !present.contains($0) }
        if weights {
            if present.contains(singleWeights) {
                files.append(singleWeights)
            } else if present.contains(index) {
                files.append(index)
            } else {
                let others = siblings.filter { name in otherWeightSuffixes.contains { name.hasSuffix($0) } }.sorted()
                if others.isEmpty {
                    throw ModelResolveError.missingInRepo(repo: repo, revision: revision, file: singleWeights)
                }
                throw ModelResolveError.noSafetensors(repo: repo, revision: revision, found: others)
            }
        }
        return (files, absent)
    }
}
