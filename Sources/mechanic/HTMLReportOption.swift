import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// `--html FILE`, shared by every analysis subcommand: writes a self-contained HTML report.
struct HTMLReportOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Also write a self-contained HTML report (inline SVG figures, no network) to this file.",
                                            valueName: "file"))
    var html: String?

    /// Refuses an `--html` path that cannot be written as a new file before any work is done.
    func validate() throws {
        if let html { _ = try OutputFile(html, option: "--html") }
    }

    /// Writes the report when `--html` was given, and says where on stderr.
    func write(_ build: () throws -> Report) throws {
        guard let html else { return }
        let output = try OutputFile(html, option: "--html")
        try writeReport(try build(), to: output)
        warn("wrote the HTML report to \(output.path)")
    }

    /// Writes a report of the results `items` (in order) under `title`, with the inputs in `meta`.
    func write(title: String, meta: [(key: String, value: String)], _ items: [any HTMLReportable]) throws {
        try write { Self.report(title, meta: meta, items) }
    }

    /// A report of `items` in order.
    static func report(_ title: String, meta: [(key: String, value: String)], _ items: [any HTMLReportable]) -> Report {
        var report = Report(title: title, meta: meta)
        for item in items { item.html(into: &report) }
        return report
    }
}

/// The report header lines every analysis shares: the model and how it was loaded.
func reportMeta(_ m: HookedTransformer, processed: Bool) -> [(key: String, value: String)] {
    let c = m.config
    return [("model", m.source), ("shape", "\(c.nLayers) layers × \(c.nHeads) heads, d_model \(c.dModel), d_vocab \(c.dVocab)"),
            ("weights", processed ? "processed (fold_ln, center_writing_weights, center_unembed, fold_value_biases)" : "unprocessed")]
}

extension PromptOptions {
    /// `prompt` or `tokens` as given, for a report header.
    var reportMeta: [(key: String, value: String)] {
        if let prompt { return [("prompt", prompt + (noBos ? "  (no BOS)" : ""))] }
        return [("tokens", tokens ?? "")]
    }
}
