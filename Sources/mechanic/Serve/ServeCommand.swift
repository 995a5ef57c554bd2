import ArgumentParser
import Foundation
import Hummingbird
import Mechanic
import MechanicAnalysis
import MechanicIO

/// `mechanic serve`: the explorer. Loads the model once and answers `POST /api/<command>` with
/// exactly what `mechanic <command> … --json` prints, and serves the pages built on that API.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The explorer: a local web app that keeps the model loaded (pages and a JSON API).",
        discussion: """
        POST /api/<command> (predict, tokenize, lens, attribute, diff, patch, heads, neurons, congruence) takes a JSON \
        object of the command's long option names ({"prompt": "…", "answer": " Paris", "pos": -1}) and answers exactly \
        the command's --json output; errors are HTTP 400 {"error": "…"}. Pages: / (prompt), /head/L/H, /patch, /compare, /browse, /neurons. \
        See docs/cli/serve.md.
        """)

    @Option(name: .long, help: "A model directory, hub id or alias (default: the planted induction model of `mechanic demo`).")
    var model = "planted:induction"

    @Option(name: .long, help: "Hub revision when --model is a hub id.")
    var revision: String?

    @Flag(name: .long, help: "Load the weights unprocessed.")
    var noProcessing = false

    @Option(name: .long, help: "Address to listen on. Anything but loopback exposes the model to the network, without authentication.")
    var host = "127.0.0.1"

    @Option(name: .long, parsing: .unconditional, help: "Port (0 picks a free one; the real one is printed).")
    var port = 8800

    @Option(name: .long, parsing: .unconditional, help: "Analyses run at once (the others wait): bounds the memory of concurrent forwards.")
    var workers = 2

    @Option(name: .long, help: ArgumentHelp("The corpus of the neurons page (text or JSON lines, as `neurons --corpus`).", valueName: "file"))
    var corpus: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port): give 0 to 65535") }
        try requireAtLeast(1, workers, "--workers")
        try requireAtMost(64, workers, "--workers", "each worker may hold one forward's activations")
    }

    func run() throws {
        var args = ["--model=\(model)"] + (noProcessing ? ["--no-processing"] : [])
        if let revision { args.append("--revision=\(revision)") }
        let m = try ModelOptions.parse(args).load()
        if !["127.0.0.1", "localhost", "::1"].contains(host) {
            warn("warning: serving on \(host): anyone who can reach this address can use the server; there is no authentication")
        }
        if let corpus { _ = try CorpusReader(url: URL(fileURLWithPath: corpus), format: nil) }  // a readable corpus, before the model loads
        let server = ExplorerServer(model: m, modelName: model, pool: WorkerPool(width: workers), corpus: corpus)
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        let (host, port) = (host, port)
        Task {
            do { try await server.run(host: host, port: port) } catch { failure.error = error }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw error }
    }
}

/// The error a server task ended with, read after it finished.
final class ErrorBox: @unchecked Sendable {
    var error: (any Error)?
}
