import Foundation

/// A one-line text progress bar (`[=========>          ]  45%  1,234 docs  56,789 tokens`),
/// redrawn in place on a terminal with `\r`.
public struct ProgressBar: Sendable {
    public var width: Int
    public init(width: Int = 30) { self.width = width }

    /// The bar for `fraction` (nil: unknown, drawn as a spinner-free bar of `?`) plus a note.
    public func render(fraction: Double?, note: String) -> String {
        guard let f = fraction.map({ min(max($0, 0), 1) }) else {
            return "[" + String(repeating: "?", count: width) + "]    " + note
        }
        let filled = Int((f * Double(width)).rounded(.down))
        var bar = String(repeating: "=", count: filled)
        if filled < width { bar += ">" + String(repeating: " ", count: width - filled - 1) }
        return "[" + bar + "] " + String(format: "%3d%%", Int((f * 100).rounded(.down))) + "  " + note
    }

    /// `1234567` → `1,234,567`.
    public static func grouped(_ n: Int) -> String {
        let s = String(abs(n))
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }
}

/// Draws a `ProgressBar` on stderr, at most every `interval` seconds, only when stderr is a
/// terminal (or `force`).
public final class StderrProgress: @unchecked Sendable {
    private let bar = ProgressBar()
    private let enabled: Bool
    private let interval: TimeInterval
    private var last = Date.distantPast
    private var drawn = false

    public init(force: Bool = false, interval: TimeInterval = 0.2) {
        enabled = force || isatty(2) == 1
        self.interval = interval
    }

    public func update(fraction: Double?, note: String) {
        guard enabled, Date().timeIntervalSince(last) >= interval else { return }
        last = Date()
        FileHandle.standardError.write(Data(("\r" + bar.render(fraction: fraction, note: note) + "\u{1B}[K").utf8))
        drawn = true
    }

    /// Draws the final state and ends the line.
    public func finish(note: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r" + bar.render(fraction: 1, note: note) + "\u{1B}[K\n").utf8))
        drawn = false
    }
}
