import Foundation
import Testing
@testable import MechanicIO

/// The shared progress bar: ETA arithmetic and formatting, and when a terminal line is drawn.
@Suite struct ProgressLineTests {
    @Test func durationsAreClockFaces() {
        #expect(ProgressBar.duration(0) == "0:00")
        #expect(ProgressBar.duration(7) == "0:07")
        #expect(ProgressBar.duration(11.4) == "0:11")
        #expect(ProgressBar.duration(59.5) == "1:00")
        #expect(ProgressBar.duration(725) == "12:05")
        #expect(ProgressBar.duration(3723) == "1:02:03")
        #expect(ProgressBar.duration(-3) == "0:00")
        #expect(ProgressBar.duration(.infinity) == "-:--")
    }

    @Test func etaAssumesTheRateSoFar() {
        #expect(ProgressBar.eta(done: 540, total: 1200, elapsed: 9) == 11)   // 60 per second, 660 left
        #expect(ProgressBar.eta(done: 1200, total: 1200, elapsed: 20) == 0)
        #expect(ProgressBar.eta(done: 0, total: 1200, elapsed: 5) == nil)
    }

    @Test func barShowsDoneTotalAndETA() {
        let bar = ProgressBar(width: 10)
        #expect(bar.render(done: 540, total: 1200, unit: "patches", elapsed: 9) == "[====>     ]  45%  540/1,200 patches  ETA 0:11")
        #expect(bar.render(done: 0, total: 12, unit: "patches", elapsed: 3) == "[>         ]   0%  0/12 patches  ETA -:--")
        #expect(bar.render(done: 12, total: 12, unit: "patches", elapsed: 3) == "[==========] 100%  12/12 patches  ETA 0:00")
        #expect(ProgressBar(width: 8, style: .hashes).bar(0.5) == "[####----]")
    }

    /// A clock the test moves by hand.
    final class Clock: @unchecked Sendable {
        var now: TimeInterval = 100
    }

    @Test func appearsAfterTheDelayAndRedrawsAtMostFiveTimesASecond() {
        let log = ProgressLog(), clock = Clock()
        let line = ProgressLine(reporter: log.reporter(interactive: true), bar: ProgressBar(width: 4), clock: { clock.now })
        line.update(done: 0, total: 10, unit: "patches")   // the work starts at t = 100
        clock.now = 100.9
        line.update(done: 3, total: 10, unit: "patches")
        #expect(log.text.isEmpty && !line.isDrawn)   // under a second: nothing
        clock.now = 101
        line.update(done: 4, total: 10, unit: "patches")
        #expect(log.text == "\r\u{1B}[2K[=>  ]  40%  4/10 patches  ETA 0:02")
        clock.now = 101.1
        line.update(done: 5, total: 10, unit: "patches")   // 0.1 s after the last draw: skipped
        #expect(!log.text.contains("5/10"))
        clock.now = 101.25
        line.update(done: 6, total: 10, unit: "patches")
        #expect(log.text.hasSuffix("\r\u{1B}[2K[==> ]  60%  6/10 patches  ETA 0:01"))
        line.clear()
        #expect(log.text.hasSuffix("ETA 0:01\r\u{1B}[2K") && !line.isDrawn)
        line.clear()   // nothing on screen: nothing written
        #expect(log.text.hasSuffix("ETA 0:01\r\u{1B}[2K"))
    }

    @Test func silentWhenQuietOrNotATerminal() {
        let clock = Clock()
        for (interactive, enabled) in [(false, true), (true, false)] {
            let log = ProgressLog()
            let line = ProgressLine(reporter: log.reporter(interactive: interactive), enabled: enabled, clock: { clock.now })
            clock.now += 5
            line.update(done: 1, total: 2, unit: "patches")
            line.update(fraction: 0.5, note: "x")
            line.finish(note: "done")
            line.clear()
            #expect(log.text.isEmpty)
        }
    }

    @Test func finishEndsADrawnLine() {
        let log = ProgressLog(), clock = Clock()
        let line = ProgressLine(reporter: log.reporter(interactive: true), delay: 0, bar: ProgressBar(width: 4), clock: { clock.now })
        line.finish(note: "never drawn")
        #expect(log.text.isEmpty)
        line.update(fraction: 0.5, note: "3 docs")
        line.finish(note: "6 docs")
        #expect(log.text == "\r\u{1B}[2K[==> ]  50%  3 docs\r\u{1B}[2K[====] 100%  6 docs\n")
    }
}
