#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MechanicIO

/// The processed-weights cache: the float32 weights of a checkpoint after processing, in the
/// layout the forward reads (fused q | k | v per block), as one safetensors file per model and
/// processing mode. A later load maps the file and uses its pages as the weights' storage
/// (`MappedArray`): no reading, converting or processing, and nothing copied into anonymous
/// memory.
///
/// Location: `$MECHANIC_CACHE`, else `$XDG_CACHE_HOME/mechanic`, else `~/.cache/mechanic`; files
/// are `weights/<model dir name>-<hash of its path>/processing-<mode bits>-<hash of the key>.safetensors`.
/// Deleting the directory clears the cache; writing a new file for a model and processing mode
/// removes that pair's older ones.
///
/// Validity: the key (in the file name and, in full, in the file's metadata) covers the format
/// version, the processing mode and each source file's name, size, modification time and a hash
/// of its safetensors header (or, for config.json and a shard index, of its bytes); any change
/// gives a new key, so a stale file is never read. A file is written to a temporary name and
/// renamed into place, so no loader sees half of one. On load, a file is trusted only when its
/// header parses and covers the file exactly (so a truncated file fails), its metadata key equals
/// the expected one, every weight has the shape the config implies, and a checksum over samples
/// of every tensor (its first, middle and last 4 KiB, with its name and shape) matches the one
/// stored at the end of the file. Anything else discards the file and rebuilds it. The sampled
/// checksum costs a few pages per tensor instead of reading 0.5 GB: damage to the bytes between
/// samples of a file that is otherwise intact (bit rot, a deliberate edit) is not detected.
public enum WeightCache {
    /// Bumped whenever the file's layout or the processing code's output changes.
    public static let formatVersion = 1

    /// `$MECHANIC_CACHE`, else `$XDG_CACHE_HOME/mechanic`, else `~/.cache/mechanic`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = environment["MECHANIC_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("mechanic")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/mechanic")
    }

    /// The cache file for a model directory under `root`, and the full key it must hold.
    static func location(root: URL, modelDirectory: URL, processing: WeightProcessing) throws -> (file: URL, key: String) {
        let key = try self.key(modelDirectory, processing: processing)
        let dirPath = modelDirectory.standardizedFileURL.path
        let name = String(modelDirectory.standardizedFileURL.lastPathComponent.filter { $0.isLetter || $0.isNumber || "-_.".contains($0) }.prefix(60))
        let folder = root.appendingPathComponent("weights").appendingPathComponent("\(name)-\(hex(hash(Array(dirPath.utf8))))")
        let mode = [processing.foldLN, processing.centerWritingWeights, processing.centerUnembed, processing.foldValueBiases]
            .map { $0 ? "1" : "0" }.joined()
        return (folder.appendingPathComponent("processing-\(mode)-" + hex(hash(Array(key.utf8))) + ".safetensors"), key)
    }

    /// The canonical description of everything the cached values depend on.
    static func key(_ dir: URL, processing: WeightProcessing) throws -> String {
        var files = ["config.json"]
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: index.path) {
            files.append("model.safetensors.index.json")
            files += Set(try Checkpoint.weightMap(index).values).sorted()
        } else {
            files.append("model.safetensors")
        }
        var parts = ["mechanic-weights v\(formatVersion)",
                     "processing fold_ln=\(processing.foldLN) center_writing=\(processing.centerWritingWeights) "
                        + "center_unembed=\(processing.centerUnembed) fold_value_biases=\(processing.foldValueBiases)"]
        for name in files {
            let path = dir.appendingPathComponent(name).path
            var st = stat()
            guard stat(path, &st) == 0 else { throw SafeTensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
            #if canImport(Darwin)
            let mtime = "\(st.st_mtimespec.tv_sec).\(st.st_mtimespec.tv_nsec)"
            #else
            let mtime = "\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            #endif
            let contentHash = name.hasSuffix(".safetensors") ? try headerHash(path) : try fileHash(path)
            parts.append("\(name) size=\(st.st_size) mtime=\(mtime) hash=\(hex(contentHash))")
        }
        return parts.joined(separator: "\n")
    }

    /// Hash of a safetensors file's length prefix and header (not its data).
    static func headerHash(_ path: String) throws -> UInt64 {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var length: UInt64 = 0
        guard pread(fd, &length, 8, 0) == 8 else { throw SafeTensorsError.truncatedHeader(file: path, size: 0) }
        let n = Int(min(UInt64(littleEndian: length), UInt64(SafeTensorsFile.maxHeaderLength)))
        var bytes = [UInt8](repeating: 0, count: n + 8)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n + 8, 0) }
        return hash(Array(bytes.prefix(max(got, 0))))
    }

    /// Hash of a small file's bytes (config.json, a shard index).
    static func fileHash(_ path: String) throws -> UInt64 {
        hash(Array(try InputFile.read(path, what: "a model file", limit: InputFile.configLimit)))
    }

    /// FNV-1a, 64 bits.
    static func hash(_ bytes: [UInt8], seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        bytes.withUnsafeBufferPointer { hash(UnsafeRawBufferPointer($0), seed: seed) }
    }

    static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Removes the other cache files of the same model and processing mode (older keys), keeping `file`.
    static func removeSiblings(of file: URL) {
        let folder = file.deletingLastPathComponent()
        let mode = String(file.lastPathComponent.prefix("processing-0000-".count))
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name != file.lastPathComponent && name.hasPrefix(mode) && name.hasSuffix(".safetensors") {
            unlink(folder.appendingPathComponent(name).path)
        }
    }
}
