import MechanicIO
import MechanicTensor

/// Reads checkpoint tensors for one architecture, checking shapes against the config and
/// recording which tensors were used so that leftovers can be rejected (strict loading).
struct WeightReader {
    let checkpoint: Checkpoint
    /// A prefix some checkpoints put before every name (`transformer.` for GPT-2 saved by `transformers`).
    var prefix: String = ""
    /// Read tensors with `pread` instead of through the mapping (streamed blocks).
    var byReading = false
    var used: Set<String> = []

    init(_ checkpoint: Checkpoint) { self.checkpoint = checkpoint }

    func has(_ name: String) -> Bool { checkpoint.contains(prefix + name) || checkpoint.contains(name) }

    mutating func read(_ name: String, shape: [Int]) throws -> Tensor {
        let full = checkpoint.contains(prefix + name) ? prefix + name : name
        used.insert(full)
        return try checkpoint.tensor(full, shape: shape, byReading: byReading)
    }

    mutating func readIfPresent(_ name: String, shape: [Int]) throws -> Tensor? {
        has(name) ? try read(name, shape: shape) : nil
    }

    /// Throws for any tensor that was not read and is not a known non-parameter buffer.
    func rejectUnused(ignoring patterns: [String]) throws {
        for name in checkpoint.names where !used.contains(name) {
            if patterns.contains(where: { name.hasSuffix($0) }) { continue }
            throw MechanicError.unexpectedTensor(file: checkpoint.directory.path, tensor: name)
        }
    }
}

/// Reshaping helpers shared by the architecture conversions.
enum Layout {
    /// Gathers per-head matrices `[n, inDim, dHead]` from a 2-D checkpoint tensor, with
    /// `index(head, e, m)` giving the flat source offset of element (head, m, e).
    static func heads(_ src: Tensor, n: Int, inDim: Int, dHead: Int, index: (Int, Int, Int) -> Int) -> Tensor {
        Tensor(shape: [n, inDim, dHead]) { out in
            src.data.withUnsafeBufferPointer { s in
                var o = 0
                for h in 0..<n {
                    for m in 0..<inDim {
                        for e in 0..<dHead {
                            out[o] = s[index(h, e, m)]
                            o += 1
                        }
                    }
                }
            }
        }
    }

    /// `[rows, cols] -> [cols, rows]`.
    static func transpose(_ t: Tensor) -> Tensor { t.permuted([1, 0]) }

    /// A zero tensor of `shape`.
    static func zeros(_ shape: [Int]) -> Tensor { Tensor(zeros: shape) }
}

extension WeightReader {
    /// Records block `l`'s tensor names as used by checking their headers only (no data read).
    mutating func markBlock(_ l: Int, _ arch: Architecture, _ c: ModelConfig) throws {
        let names = checkpoint.names.filter { name in
            let stripped = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
            let markers = ["h.\(l).", "gpt_neox.layers.\(l).", "model.layers.\(l)."]
            return markers.contains { stripped.hasPrefix($0) }
        }
        for n in names { used.insert(n) }
    }
}
