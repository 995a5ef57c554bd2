import ArgumentParser
import Foundation
import MechanicAnalysis
import MechanicIO

/// `--shard K/N --out PART` (or `--shard-from-env [--shard-count N]`) on a long-running command:
/// this process does shard K of N and writes a partial result; `mechanic merge` combines them.
struct ShardOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Do shard K of N (K from 0 to N−1) of the work and write a partial result to --out; `mechanic merge` combines the N partials.", valueName: "K/N"))
    var shard: String?

    @Flag(name: .long, help: "Take the shard from a Slurm array task (SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job pod (JOB_COMPLETION_INDEX of --shard-count).")
    var shardFromEnv = false

    @Option(name: .long, parsing: .unconditional, help: "With --shard-from-env: the number of shards (a Kubernetes Job's completions; Slurm's array size is read from its environment).")
    var shardCount: Int?

    @Option(name: .long, help: ArgumentHelp("With --shard: the partial result file to write (safetensors with a JSON manifest).", valueName: "part"))
    var out: String?

    func validate() throws {
        if shard != nil && shardFromEnv { throw ValidationError("give --shard K/N or --shard-from-env, not both") }
        if shardCount != nil && !shardFromEnv { throw ValidationError("--shard-count goes with --shard-from-env") }
        if shard != nil || shardFromEnv {
            guard let out else { throw ValidationError("a shard writes a partial result: give --out PART") }
            _ = try OutputFile(out, option: "--out")
            _ = try resolved()
        } else if out != nil {
            throw ValidationError("--out writes a shard's partial result: give --shard K/N or --shard-from-env too")
        }
    }

    /// The shard asked for, nil for an unsharded run.
    func resolved() throws -> Shard? {
        if let shard { return try Shard(parsing: shard) }
        if shardFromEnv { return try Shard.fromEnvironment(ProcessInfo.processInfo.environment, count: shardCount) }
        return nil
    }
}

/// A sharded command's own arguments as the manifest records them and the merge reads them.
enum ShardArguments {
    /// The arguments after `command` in `all`, without `options` (and their values) and `flags`:
    /// those that decide nothing about the result (output, progress, the shard itself).
    static func kept(after command: String, dropping options: Set<String>, flags: Set<String>,
                     _ all: [String] = CommandLine.arguments) -> [String] {
        guard let i = all.firstIndex(of: command) else { return [] }
        var out: [String] = []
        var rest = all[(i + 1)...].makeIterator()
        while let a = rest.next() {
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if flags.contains(name) { continue }
            if options.contains(name) {
                if !a.contains("=") { _ = rest.next() }
                continue
            }
            out.append(a)
        }
        return out
    }

    /// `--name value`, `--name=value` and flags (`"true"`) by name, for the manifest.
    static func optionMap(_ args: [String]) -> [String: String] {
        var map: [String: String] = [:]
        var i = 0
        while i < args.count {
            let a = args[i]
            defer { i += 1 }
            guard a.hasPrefix("--") else { continue }
            let parts = a.dropFirst(2).split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { map[parts[0]] = parts[1]; continue }
            if i + 1 < args.count, !args[i + 1].hasPrefix("--") { map[parts[0]] = args[i + 1]; i += 1 } else { map[parts[0]] = "true" }
        }
        return map
    }
}
