import Foundation
import Testing

/// The weight cache from the command line: `MECHANIC_CACHE` says where it lives, the first run
/// writes it, later runs read it (same output), and `--no-weight-cache` neither reads nor writes.
@Suite struct WeightCacheCLITests {
    func run(_ args: [String], cache: URL) throws -> CLI.Result {
        try CLI.run(args, extra: ["MECHANIC_CACHE": cache.path])
    }

    func cacheFiles(_ dir: URL) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".safetensors") }
    }

    @Test func firstRunWritesTheCacheAndTheFlagBypassesIt() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cli-wcache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let args = ["predict", "--model", CLI.model("pythia-tiny"), "--tokens", "5,9,3", "--top", "4", "--json"]

        let bypass = try run(args + ["--no-weight-cache"], cache: cache)
        #expect(bypass.status == 0, "\(bypass.stderr)")
        #expect(cacheFiles(cache).isEmpty)

        let first = try run(args, cache: cache)
        #expect(first.status == 0, "\(first.stderr)")
        let files = cacheFiles(cache)
        #expect(files.count == 1)
        #expect(files.first?.hasPrefix("weights/pythia-tiny-") == true)
        let written = try FileManager.default.attributesOfItem(atPath: cache.appendingPathComponent(files[0]).path)[.modificationDate] as? Date

        let second = try run(args, cache: cache)
        #expect(second.status == 0)
        #expect(cacheFiles(cache) == files)
        let after = try FileManager.default.attributesOfItem(atPath: cache.appendingPathComponent(files[0]).path)[.modificationDate] as? Date
        #expect(after == written)   // read, not rewritten
        #expect(first.stdout == bypass.stdout && second.stdout == bypass.stdout)
        #expect(!first.stdout.isEmpty)
    }
}
