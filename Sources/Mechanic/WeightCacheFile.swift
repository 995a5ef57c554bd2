#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MechanicIO
import MechanicTensor

/// Why a cache file was not used (it is then discarded and rebuilt).
struct WeightCacheInvalid: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// The cache file could not be written (a read-only or full disk): the load goes on without it.
struct WeightCacheWriteFailed: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// The layout of a cache file and its reading and writing (see `WeightCache` for the rules).
///
/// Tensors, all F32, in this order: for each block `blocks.<l>.` + `ln1.w`, `ln1.b`, `attn.W_QKV`
/// `[d_model, (heads + 2·kv_heads)·d_head]`, `attn.b_QKV`, `attn.W_O` `[heads, d_head, d_model]`,
/// `attn.b_O`, `ln2.w`, `ln2.b`, `mlp.W_in`, `mlp.W_gate`, `mlp.b_in`, `mlp.W_out`, `mlp.b_out`
/// (those the processed model has); then `embed.W_E`, `pos_embed.W_pos`, `ln_final.w`,
/// `ln_final.b`, `unembed.W_U`, `unembed.b_U`; last `__checksum__` (`[4]`: the 64-bit sampled
/// checksum as four exact 16-bit values). `__pad__.<k>` entries align large tensors for mapping.
enum WeightCacheFile {
    static let checksumName = "__checksum__"
    static let keyMetadata = "mechanic_weight_cache_key"

    /// The tensors of a block present in the processed model, by name within the block.
    static func blockTensors(_ b: BlockWeights) -> [(String, Tensor)] {
        let all: [(String, Tensor?)] = [
            ("ln1.w", b.ln1W), ("ln1.b", b.ln1B), ("attn.W_QKV", b.wQKV), ("attn.b_QKV", b.bQKV),
            ("attn.W_O", b.W_O), ("attn.b_O", b.b_O), ("ln2.w", b.ln2W), ("ln2.b", b.ln2B),
            ("mlp.W_in", b.W_in), ("mlp.W_gate", b.W_gate), ("mlp.b_in", b.b_in), ("mlp.W_out", b.W_out), ("mlp.b_out", b.b_out)]
        return all.compactMap { name, t in t.map { (name, $0) } }
    }

    static func globalTensors(_ w: ModelWeights) -> [(String, Tensor)] {
        let all: [(String, Tensor?)] = [
            ("embed.W_E", w.W_E), ("pos_embed.W_pos", w.W_pos), ("ln_final.w", w.lnFinalW), ("ln_final.b", w.lnFinalB),
            ("unembed.W_U", w.W_U), ("unembed.b_U", w.b_U)]
        return all.compactMap { name, t in t.map { (name, $0) } }
    }

    /// Writes the cache file (atomically: a temporary file renamed into place). `globals` are the
    /// processed embedding/unembedding, `first` the processed block 0 (which tells the layout),
    /// and `block(l)` gives processed block `l` when its turn comes, so at most one block of
    /// `block`'s is held at a time; `finish` runs after the last block (the strictness check).
    /// Errors of `block` and `finish` are thrown as they are; failures to write the file as
    /// `WeightCacheWriteFailed`.
    static func write(_ file: URL, key: String, globals: ModelWeights, first: BlockWeights, layers: Int,
                      block: @escaping (Int) throws -> BlockWeights, finish: @escaping () throws -> Void) throws {
        final class State {
            var current: (Int, BlockWeights)?
            var checksum = Checksum()
            var sourceError: Error?
        }
        let state = State()
        state.current = (0, first)
        var writer = SafeTensorsWriter()
        writer.metadata = [keyMetadata: key]
        writer.pagePhase = MappedArray.pagePhase
        for l in 0..<layers {
            for (name, t) in blockTensors(first) {
                let full = "blocks.\(l).\(name)"
                writer.add(full, shape: t.shape) {
                    if state.current?.0 != l {
                        state.current = nil
                        do { state.current = (l, try block(l)) } catch { state.sourceError = error; throw error }
                    }
                    guard let b = state.current?.1, let t = blockTensors(b).first(where: { $0.0 == name })?.1 else {
                        throw WeightCacheInvalid(reason: "block \(l) has no \(name), unlike block 0")
                    }
                    state.checksum.add(full, t)
                    return t
                }
            }
        }
        for (i, (name, t)) in globalTensors(globals).enumerated() {
            writer.add(name, shape: t.shape) {
                state.current = nil
                if i == 0 { do { try finish() } catch { state.sourceError = error; throw error } }
                state.checksum.add(name, t)
                return t
            }
        }
        writer.add(checksumName, shape: [4]) { Tensor(shape: [4], data: state.checksum.asFloats) }
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try writer.write(to: OutputFile(file.path, option: "the weight cache", refusesInputs: false))
        } catch {
            if let e = state.sourceError { throw e }
            throw WeightCacheWriteFailed(reason: OutputFile.reason(error))
        }
    }

    /// Reads a cache file, validated as `WeightCache` describes, with its large tensors mapped in
    /// place. `config` is the processed config. Throws `WeightCacheInvalid` for a file that must
    /// not be used.
    static func read(_ file: URL, key: String, config c: ModelConfig) throws -> (weights: ModelWeights, mapped: Int, copied: Int) {
        let st: SafeTensorsFile
        do { st = try SafeTensorsFile(url: file) } catch {
            throw WeightCacheInvalid(reason: "\(error)")
        }
        guard st.metadata[keyMetadata] == key else {
            throw WeightCacheInvalid(reason: "\(file.path) was written for other source files or settings")
        }
        // The sampled checksum, over the tensors in file order.
        let stored = try? st.tensor(checksumName)
        var checksum = Checksum()
        let ordered = st.tensors.values.filter { !$0.name.hasPrefix("__") }.sorted { $0.byteOffset < $1.byteOffset }
        for info in ordered {
            guard info.dtype == .f32 else { throw WeightCacheInvalid(reason: "\(file.path): \(info.name) is \(info.dtype.rawValue), not F32") }
            checksum.add(info.name, info.shape, UnsafeRawBufferPointer(start: st.rawBytes(info), count: info.byteCount))
        }
        guard let stored, stored.shape == [4], stored.data == checksum.asFloats else {
            throw WeightCacheInvalid(reason: "\(file.path): the checksum does not match its data (damaged file)")
        }

        let fd = open(file.path, O_RDONLY)
        guard fd >= 0 else { throw WeightCacheInvalid(reason: "cannot open \(file.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var (mapped, copied) = (0, 0)
        func t(_ name: String) throws -> Tensor? {
            guard let info = st.tensors[name] else { return nil }
            let (values, inPlace) = try MappedArray.floats(fd: fd, path: file.path, byteOffset: info.byteOffset, count: info.count)
            if inPlace { mapped += info.byteCount } else { copied += info.byteCount }
            return Tensor(shape: info.shape, data: values)
        }
        func required(_ name: String) throws -> Tensor {
            guard let v = try t(name) else { throw WeightCacheInvalid(reason: "\(file.path) has no \(name)") }
            return v
        }
        let shape = AttentionShape(c)
        var blocks: [BlockWeights] = []
        for l in 0..<c.nLayers {
            let p = "blocks.\(l)."
            blocks.append(BlockWeights(
                ln1W: try t(p + "ln1.w"), ln1B: try t(p + "ln1.b"),
                wQKV: try required(p + "attn.W_QKV"), bQKV: try required(p + "attn.b_QKV"), attnShape: shape,
                W_O: try required(p + "attn.W_O"), b_O: try required(p + "attn.b_O"),
                ln2W: try t(p + "ln2.w"), ln2B: try t(p + "ln2.b"),
                W_in: try t(p + "mlp.W_in"), W_gate: try t(p + "mlp.W_gate"), b_in: try t(p + "mlp.b_in"),
                W_out: try t(p + "mlp.W_out"), b_out: try t(p + "mlp.b_out")))
        }
        let weights = ModelWeights(W_E: try required("embed.W_E"), W_pos: try t("pos_embed.W_pos"), blocks: blocks,
                                   lnFinalW: try t("ln_final.w"), lnFinalB: try t("ln_final.b"),
                                   W_U: try required("unembed.W_U"), b_U: try required("unembed.b_U"))
        return (weights, mapped, copied)
    }
}

/// The sampled checksum of a cache file: each tensor's name, shape, and its first, middle and
/// last 4 KiB (all of it when shorter than 12 KiB), folded in file order.
struct Checksum {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    static let sample = 4096

    mutating func add(_ name: String, _ t: Tensor) {
        t.data.withUnsafeBytes { add(name, t.shape, $0) }
    }

    mutating func add(_ name: String, _ shape: [Int], _ bytes: UnsafeRawBufferPointer) {
        value = WeightCache.hash(Array("\(name) \(shape)".utf8), seed: value)
        let n = bytes.count, s = Self.sample
        let ranges = n <= 3 * s ? [0..<n] : [0..<s, (n / 2 - s / 2)..<(n / 2 + s / 2), (n - s)..<n]
        for r in ranges { value = WeightCache.hash(UnsafeRawBufferPointer(rebasing: bytes[r]), seed: value) }
    }

    /// The value as four floats, each an exact 16-bit piece.
    var asFloats: [Float] { (0..<4).map { Float((value >> (16 * UInt64($0))) & 0xffff) } }
}
