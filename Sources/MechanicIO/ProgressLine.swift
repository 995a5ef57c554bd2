import Foundation

/// A progress line on a terminal, redrawn in place: it appears only once the work has run for
/// `delay` seconds (short work shows nothing), is redrawn at most once per `interval`, and is
/// cleared when the work ends or is interrupted. It writes nothing when the reporter is not
/// interactive (stderr is not a terminal) or when `enabled` is false (`--quiet`).
///
/// Used from the thread doing the work (updates come between chunks of work, never per element).
public final class ProgressLine {
    private let reporter: ProgressReporter
    private let active: Bool
    private let delay: TimeInterval
    private let interval: TimeInterval
    private let clock: () -> TimeInterval
    private let bar: ProgressBar
    private let start: TimeInterval
    private var lastDraw = -TimeInterval.infinity
    private var workStart: TimeInterval?
    /// Whether a line is on screen now.
    public private(set) var isDrawn = false

    /// `clock` gives seconds on any monotonic scale (tests pass their own).
    public init(reporter: ProgressReporter = .stderr, enabled: Bool = true, delay: TimeInterval = 1, interval: TimeInterval = 0.2,
                bar: ProgressBar = ProgressBar(), clock: @escaping () -> TimeInterval = { ProcessInfo.processInfo.systemUptime }) {
        self.reporter = reporter
        active = enabled && reporter.isInteractive
        self.delay = delay
        self.interval = interval
        self.bar = bar
        self.clock = clock
        start = clock()
    }

    /// `done` of `total` units, with the time left at the rate since the first such update
    /// (the work's start: setup before it does not count toward the rate).
    public func update(done: Int, total: Int, unit: String) {
        if workStart == nil { workStart = clock() }
        guard let now = due() else { return }
        draw(bar.render(done: done, total: total, unit: unit, elapsed: now - (workStart ?? start)), at: now)
    }

    /// A fraction (nil when unknown) and a note.
    public func update(fraction: Double?, note: String) {
        guard let now = due() else { return }
        draw(bar.render(fraction: fraction, note: note), at: now)
    }

    /// Draws the final state and ends the line — when a line is on screen (work that finished
    /// before `delay` leaves no trace).
    public func finish(note: String) {
        guard isDrawn else { return }
        reporter.write("\r\u{1B}[2K" + bar.render(fraction: 1, note: note) + "\n")
        isDrawn = false
    }

    /// Removes the line, leaving the cursor at the start of an empty line.
    public func clear() {
        guard isDrawn else { return }
        reporter.write("\r\u{1B}[2K")
        isDrawn = false
    }

    /// The time now when a redraw is due, else nil.
    private func due() -> TimeInterval? {
        guard active else { return nil }
        let now = clock()
        guard now - start >= delay, now - lastDraw >= interval else { return nil }
        return now
    }

    private func draw(_ text: String, at now: TimeInterval) {
        reporter.write("\r\u{1B}[2K" + text)
        lastDraw = now
        isDrawn = true
    }
}
