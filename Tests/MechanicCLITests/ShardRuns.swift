import Foundation
import Testing
import MechanicAnalysis

extension CLI {
    /// Runs `base` as shards K = N−1 … 0 of N (reverse order: the merge must not depend on it),
    /// each writing `dir/<name>-K.safetensors`, and expects each to succeed, name its `--out`
    /// and report `items(K)` items (and `totalItems` when given). Returns the partials' paths.
    static func runShards(_ base: [String], count n: Int, dir: URL, name: String, items: (Int) throws -> Int,
                          totalItems: Int? = nil) throws -> [String] {
        var parts: [String] = []
        for k in (0..<n).reversed() {
            let part = dir.appendingPathComponent("\(name)-\(k).safetensors").path
            let r = try CLI.run(base + ["--shard", "\(k)/\(n)", "--out", part, "--json"])
            let written = try CLI.json(r)
            #expect(r.status == 0 && written["out"] as? String == part, "\(r.stderr)")
            #expect(written["items"] as? Int == (try items(k)), "shard \(k)/\(n): \(written)")
            if let totalItems { #expect(written["totalItems"] as? Int == totalItems) }
            parts.append(part)
        }
        return parts
    }
}
