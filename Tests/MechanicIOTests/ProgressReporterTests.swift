import Foundation
import Testing
@testable import MechanicIO

@Suite struct ProgressReporterTests {
    @Test func sizesUseDecimalUnits() {
        #expect(TransferProgress.size(665) == "665 B")
        #expect(TransferProgress.size(12_345) == "12.3 kB")
        #expect(TransferProgress.size(548_105_000) == "548.1 MB")
        #expect(TransferProgress.size(13_476_839_424) == "13.5 GB")
    }

    @Test func barShowsBytesPercentAndSpeed() {
        let p = TransferProgress(nil, label: "gpt2/model.safetensors", total: 200_000_000, resumedFrom: 50_000_000)
        p.update(100_000_000)
        let line = p.line(now: Date().addingTimeInterval(10), final: false)
        #expect(line.hasPrefix("gpt2/model.safetensors  [############------------] 50%  100.0 MB / 200.0 MB  "))
        #expect(line.hasSuffix("MB/s"))
        let done = p.line(now: Date().addingTimeInterval(10), final: true)
        #expect(done.hasPrefix("downloaded gpt2/model.safetensors: 100.0 MB in 10.0 s ("))
        #expect(done.hasSuffix(", resumed at 50.0 MB)"))
    }

    @Test func quietWhenNotATerminalExceptTheFinalLine() {
        let log = ProgressLog()
        let p = TransferProgress(log.reporter(interactive: false), label: "x", total: 10)
        for i in 1...10 { p.update(Int64(i)) }
        #expect(log.text.isEmpty)
        p.finish()
        #expect(log.text.hasPrefix("downloaded x: 10 B in "))
        #expect(log.text.filter { $0 == "\n" }.count == 1)
    }
}
