import ArgumentParser
import Foundation
import Mechanic

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "The next-token distribution after a prompt: rank, logit, probability and token of the top k.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions

    @Option(name: .long, help: "How many tokens to list.")
    var top = 10

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let m = try model.load()
        let ids = try input.ids(for: m)
        let logits = try m.forward(TokenBatch(ids), options: ForwardOptions(logits: .last)).logits ?? Tensor(zeros: [1, 1, 0])
        let row = logits.data
        let lse = row.withUnsafeBufferPointer { Rows.logSumExp($0.baseAddress!, n: row.count) }
        let order = row.indices.sorted { row[$0] > row[$1] }.prefix(max(top, 0))
        let entries: [[String: Any]] = order.enumerated().map { rank, id in
            ["rank": rank + 1, "id": id, "logit": Double(row[id]), "prob": exp(Double(row[id] - lse)),
             "token": m.tokenizer?.tokenString(id) ?? "#\(id)"]
        }
        if json {
            try printJSON(["tokens": ids, "top": entries])
        } else {
            let pieces = (try? m.toStrTokens(ids)) ?? ids.map { "#\($0)" }
            print("prompt tokens: " + pieces.map(\.debugDescription).joined(separator: " "))
            for e in entries {
                print(String(format: "%3d  logit %8.3f  prob %6.2f%%  ", e["rank"] as! Int, e["logit"] as! Double,
                             100 * (e["prob"] as! Double)) + (e["token"] as! String).debugDescription)
            }
        }
    }
}
