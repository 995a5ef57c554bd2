import ArgumentParser
import Foundation
import MechanicAnalysis

/// `mechanic merge PARTS…`: the result of one run from the partial results of its shards.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the partial results of a sharded run (--shard K/N --out PART) into the result of one run.",
        discussion: """
        Prints what the unsharded command prints (the same --json, the same --html report). Refuses partials of \
        different runs (model, options or inputs) or of different commands, and names missing or duplicated shards. \
        Merges partials of patch (incl. --attribution), neurons and diff. See docs/distributed.md.
        """)

    @Argument(help: ArgumentHelp("The partial files, one per shard, in any order.", valueName: "part"))
    var parts: [String] = []

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    func validate() throws {
        if parts.isEmpty { throw ValidationError("give the partial files to merge") }
    }

    func run() throws {
        let files = try ShardMerge.check(try parts.map { try PartialFile.read($0) })
        let out: CommandResult
        switch files[0].manifest.command {
        // One case per sharded command: its partials' payload and how one run prints the result.
        case "patch": out = try PatchCommand.merge(files, json: json, html: report.html)
        case "neurons": out = try NeuronsCommand.merge(files, json: json, html: report.html)
        case "diff": out = try DiffCommand.merge(files, json: json, html: report.html)
        case "circuit": out = try CircuitCommand.merge(files, json: json, html: report.html)
        case let other: throw ShardError.unsupported("\(files[0].path) is a partial of `\(other)`, which this version cannot merge")
        }
        if json { print(try out.json()) }
    }
}
