import Foundation
import Testing
import FixtureSupport
import Mechanic

/// `--streaming on` (blocks read from the checkpoint per use) prints the numbers `--streaming off`
/// prints, command by command, within the project's float32 tolerance.
@Suite struct StreamingCLITests {
    static let commands: [[String]] = [
        ["patch", "--model", CLI.model("gpt2-tiny"), "--clean-tokens", "1,5,9,3,7,2,8", "--corrupt-tokens", "1,6,9,3,8,2,8",
         "--answer-id", "4", "--wrong-id", "11", "--act", "attn_head_out_all_pos", "--json", "--quiet"],
        ["patch", "--model", CLI.model("llama-tiny"), "--clean-tokens", "1,5,9,3,7,2,8", "--corrupt-tokens", "1,6,9,3,8,2,8",
         "--answer-id", "4", "--wrong-id", "11", "--act", "attn_head_k_all_pos", "--attribution", "atp*", "--top-k", "2", "--json", "--quiet"],
        ["attribute", "--model", CLI.model("gpt2-tiny"), "--prompt", "When John and Mary went to the store, John gave a drink to",
         "--answer", " Mary", "--wrong", " John", "--top", "1000", "--json"],
        ["heads", "--model", CLI.model("pythia-tiny"), "--composition", "K", "--json"],
        ["lens", "--model", CLI.model("pythia-tiny"), "--tokens", "1,50,337,68,259,273,64", "--json"],
    ]

    @Test(arguments: commands)
    func streamingOnPrintsTheNumbersOfStreamingOff(_ command: [String]) throws {
        let on = try CLI.run(command + ["--streaming", "on"])
        let off = try CLI.run(command + ["--streaming", "off"])
        #expect(on.status == 0 && off.status == 0, "\(on.stderr) \(off.stderr)")
        let (a, b) = (try CLI.json(on), try CLI.json(off))
        #expect(!b.isEmpty)
        var failures: [String] = []
        var numbers = 0
        compare(command[0], a, b, &failures, &numbers)
        #expect(numbers > 0, "no numbers in the output of \(command[0])")
        #expect(failures.isEmpty, "\(command[0]): \(failures.prefix(10).joined(separator: "; "))")
    }

    @Test func streamingRejectsAnUnknownMode() throws {
        let r = try CLI.run(["predict", "--model", CLI.model("gpt2-tiny"), "--tokens", "1,2", "--streaming", "sometimes"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--streaming"))
    }

    /// Numbers per key path (array indices dropped) as one tensor each under `Comparison`;
    /// strings and structure exactly.
    func compare(_ path: String, _ a: Any, _ b: Any, _ failures: inout [String], _ numbers: inout Int) {
        var groups: [String: ([Float], [Float])] = [:]
        func walk(_ path: String, _ a: Any, _ b: Any) {
            switch (a, b) {
            case let (x as [String: Any], y as [String: Any]):
                if x.keys.sorted() != y.keys.sorted() { failures.append("\(path): keys \(x.keys.sorted()) vs \(y.keys.sorted())") }
                for key in x.keys.sorted() { if let u = x[key], let v = y[key] { walk("\(path).\(key)", u, v) } }
            case let (x as [Any], y as [Any]):
                if x.count != y.count { failures.append("\(path): \(x.count) vs \(y.count) elements") }
                for (u, v) in zip(x, y) { walk(path + "[]", u, v) }
            case let (x as String, y as String):
                if x != y { failures.append("\(path): \(x) vs \(y)") }
            case let (x as NSNumber, y as NSNumber):
                groups[path, default: ([], [])].0.append(x.floatValue)
                groups[path, default: ([], [])].1.append(y.floatValue)
            case (is NSNull, is NSNull):
                break
            default:
                failures.append("\(path): \(type(of: a)) vs \(type(of: b))")
            }
        }
        walk(path, a, b)
        for (key, (x, y)) in groups.sorted(by: { $0.key < $1.key }) {
            numbers += x.count
            let c = Comparison(key, Tensor(shape: [x.count], data: x), Tensor(shape: [y.count], data: y))
            if !c.ok { failures.append(c.description) }
        }
    }
}
