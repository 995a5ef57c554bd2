import Foundation

/// The text of a one-line progress bar — `[=========>          ]  45%  540/1,200 patches  ETA 0:12`
/// — shared by every progress display (downloads, neuron searches, patching sweeps).
public struct ProgressBar: Sendable {
    /// The characters a bar is drawn with.
    public struct Style: Sendable {
        public var filled: Character
        /// Drawn at the tip of an unfinished bar (nil: none).
        public var head: Character?
        public var empty: Character
        public init(filled: Character, head: Character?, empty: Character) {
            self.filled = filled
            self.head = head
            self.empty = empty
        }
        /// `[=====>    ]`
        public static let arrow = Style(filled: "=", head: ">", empty: " ")
        /// `[#####-----]` (downloads).
        public static let hashes = Style(filled: "#", head: nil, empty: "-")
    }

    public var width: Int
    public var style: Style
    public init(width: Int = 30, style: Style = .arrow) {
        self.width = width
        self.style = style
    }

    /// The bracketed bar alone for `fraction` (clamped to 0…1), `[=====>    ]`.
    public func bar(_ fraction: Double) -> String {
        let f = min(max(fraction.isFinite ? fraction : 0, 0), 1)
        let filled = Int((f * Double(width)).rounded(.down))
        var s = String(repeating: style.filled, count: filled)
        if filled < width {
            if let head = style.head { s.append(head) } else { s.append(style.empty) }
            s += String(repeating: style.empty, count: width - filled - 1)
        }
        return "[" + s + "]"
    }

    /// The bar for `fraction` (nil: unknown, drawn as a bar of `?`) plus the percentage and a note.
    public func render(fraction: Double?, note: String) -> String {
        guard let f = fraction.map({ min(max($0, 0), 1) }) else {
            return "[" + String(repeating: "?", count: width) + "]    " + note
        }
        return bar(f) + " " + String(format: "%3d%%", Int((f * 100).rounded(.down))) + "  " + note
    }

    /// `done` of `total` units with the time left: `[===>   ]  45%  540/1,200 patches  ETA 0:12`.
    /// `elapsed` is the time the `done` units took; the ETA assumes the rest goes at the same rate
    /// (`ETA -:--` before the first unit is done).
    public func render(done: Int, total: Int, unit: String, elapsed: TimeInterval) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : 0
        let eta = Self.eta(done: done, total: total, elapsed: elapsed).map(Self.duration) ?? "-:--"
        return render(fraction: fraction, note: "\(Self.grouped(done))/\(Self.grouped(total)) \(unit)  ETA \(eta)")
    }

    /// Seconds left if the remaining `total − done` units go at the rate of the first `done`; nil
    /// when nothing is done yet.
    public static func eta(done: Int, total: Int, elapsed: TimeInterval) -> TimeInterval? {
        guard done > 0, elapsed.isFinite, elapsed >= 0 else { return nil }
        return elapsed * Double(max(total - done, 0)) / Double(done)
    }

    /// A duration as a clock, to the nearest second: `0:07`, `12:05`, `1:02:03`.
    public static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite else { return "-:--" }
        let s = Int(max(seconds, 0).rounded())
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, sec) : String(format: "%d:%02d", m, sec)
    }

    /// `1234567` → `1,234,567`.
    public static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }
}
