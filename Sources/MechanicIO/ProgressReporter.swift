#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where progress goes (downloads, `ProgressLine`). On a terminal (`isInteractive`) a bar is
/// redrawn in place; otherwise (a log, a pipe, CI) downloads write one final line per file and
/// progress lines write nothing.
public struct ProgressReporter: Sendable {
    public let isInteractive: Bool
    public let write: @Sendable (String) -> Void

    public init(isInteractive: Bool, write: @escaping @Sendable (String) -> Void) {
        self.isInteractive = isInteractive
        self.write = write
    }

    /// Standard error; interactive when it is a terminal.
    public static var stderr: ProgressReporter {
        ProgressReporter(isInteractive: isatty(STDERR_FILENO) != 0) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }
}

/// The progress of one file transfer: bytes, percent, speed.
final class TransferProgress: @unchecked Sendable {
    private let reporter: ProgressReporter?
    private let label: String
    private let total: Int64?
    private let resumedFrom: Int64
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var bytes: Int64

    /// `total` is the whole file's size; `resumedFrom` the bytes already on disk.
    init(_ reporter: ProgressReporter?, label: String, total: Int64?, resumedFrom: Int64 = 0) {
        self.reporter = reporter
        self.label = label
        self.total = total
        self.resumedFrom = resumedFrom
        self.bytes = resumedFrom
    }

    /// The file now holds `bytes` bytes.
    func update(_ bytes: Int64) {
        self.bytes = bytes
        guard let reporter, reporter.isInteractive else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        reporter.write("\r\u{1B}[2K" + line(now: now, final: false))
    }

    /// Writes the final line (replacing the bar on a terminal).
    func finish() {
        guard let reporter else { return }
        reporter.write((reporter.isInteractive ? "\r\u{1B}[2K" : "") + line(now: Date(), final: true) + "\n")
    }

    func line(now: Date, final: Bool) -> String {
        let seconds = max(now.timeIntervalSince(start), 1e-3)
        let speed = TransferProgress.size(Int64(Double(bytes - resumedFrom) / seconds)) + "/s"
        if final {
            let resumed = resumedFrom > 0 ? ", resumed at \(TransferProgress.size(resumedFrom))" : ""
            return "downloaded \(label): \(TransferProgress.size(bytes)) in \(String(format: "%.1f", seconds)) s (\(speed)\(resumed))"
        }
        guard let total, total > 0 else {
            return "\(label)  \(TransferProgress.size(bytes))  \(speed)"
        }
        let fraction = min(1, Double(bytes) / Double(total))
        let bar = ProgressBar(width: 24, style: .hashes).bar(fraction)
        return "\(label)  \(bar) \(Int(fraction * 100))%  \(TransferProgress.size(bytes)) / \(TransferProgress.size(total))  \(speed)"
    }

    /// Decimal units, as the hub shows sizes: `665 B`, `12.3 kB`, `548.1 MB`, `13.5 GB`.
    static func size(_ bytes: Int64) -> String {
        let b = Double(bytes)
        if b < 1e3 { return "\(bytes) B" }
        if b < 1e6 { return String(format: "%.1f kB", b / 1e3) }
        if b < 1e9 { return String(format: "%.1f MB", b / 1e6) }
        return String(format: "%.1f GB", b / 1e9)
    }
}
