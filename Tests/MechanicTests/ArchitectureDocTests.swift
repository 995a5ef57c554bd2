import Foundation
import Testing

/// docs/ARCHITECTURE.md is the map a newcomer reads first: every path it names must exist.
@Suite struct ArchitectureDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func everyPathItNamesExists() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        let paths = try Regex(#"Sources/[A-Za-z0-9_/.\-]+"#)
        var named: Set<String> = []
        for m in text.matches(of: paths) {
            var p = String(text[m.range])
            while let last = p.last, ".,)".contains(last) { p.removeLast() }
            named.insert(p)
        }
        #expect(named.count > 40)
        for p in named.sorted() {
            #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(p).path), "\(p)")
        }
        // Bare file names (`Kernels.swift`) exist somewhere under Sources.
        let sources = Self.root.appendingPathComponent("Sources").path
        let all = Set((FileManager.default.enumerator(atPath: sources)?.allObjects as? [String] ?? []).map { ($0 as NSString).lastPathComponent })
        for m in text.matches(of: try Regex(#"`([A-Za-z]+\.swift)`"#)) {
            let name = String(text[m.range].dropFirst().dropLast())
            #expect(all.contains(name), "\(name)")
        }
    }
}
