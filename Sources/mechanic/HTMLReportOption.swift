import ArgumentParser
import Foundation
import MechanicAnalysis

/// `--html FILE`, shared by every analysis subcommand: writes a self-contained HTML report.
struct HTMLReportOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Also write a self-contained HTML report (inline SVG figures, no network) to this file.",
                                            valueName: "file"))
    var html: String?

    /// Writes the report when `--html` was given, and says where on stderr.
    func write(_ build: () throws -> Report) throws {
        guard let html else { return }
        let url = URL(fileURLWithPath: html)
        try writeReport(try build(), to: url)
        warn("wrote the HTML report to \(url.path)")
    }
}
