import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// A command's `--json` output: a library Codable result type and how its keys are written.
/// The command line prints it; `mechanic serve` answers a request with exactly the same text.
struct CommandResult {
    let value: any Encodable
    let keys: ResultJSON.Keys
    /// The full result as a report shows it (the explorer's pages), when the command has one.
    let report: (any HTMLReportable)?

    init(_ value: any Encodable, keys: ResultJSON.Keys = .asDeclared, report: (any HTMLReportable)? = nil) {
        (self.value, self.keys, self.report) = (value, keys, report)
    }

    func json() throws -> String { try ResultJSON.string(value, keys: keys) }
}

/// A command that analyses an already loaded model: `run()` loads `--model` and prints the
/// result; the server parses a request into the same command and calls `result(model:progress:)`
/// with its model.
protocol ModelCommand: ParsableCommand {
    /// Runs the analysis on `model`, writes `--html` when given, prints the text report unless
    /// `--json`, and returns the `--json` result. `progress` (the server's) counts and cancels long
    /// work; nil on the command line, where Ctrl-C cancels and a progress bar shows.
    func result(model: HookedTransformer, progress: WorkProgress?) throws -> CommandResult
    /// Whether `--json` was given.
    var jsonOutput: Bool { get }
}

extension ModelCommand {
    /// Loads the model, runs the analysis and prints the JSON when asked for.
    func runLoading(_ load: () throws -> HookedTransformer) throws {
        let out = try result(model: try load(), progress: nil)
        if jsonOutput { print(try out.json()) }
    }
}

extension Interruptible {
    /// Long work on the command line (progress bar, Ctrl-C) or, with the server's `progress`, as is.
    static func run<T>(unit: String, quiet: Bool, progress: WorkProgress?, _ body: (WorkProgress) throws -> T) throws -> T {
        guard let progress else { return try run(unit: unit, quiet: quiet, body) }
        let value = try body(progress)
        try progress.check()
        return value
    }
}
