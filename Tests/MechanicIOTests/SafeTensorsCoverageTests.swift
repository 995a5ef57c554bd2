import Foundation
import Testing
import MechanicIO

/// Files that used to open and read silently wrong numbers: the tensors must cover the data
/// section exactly, names are unique, `__metadata__` maps strings to strings, weights are floats.
@Suite struct SafeTensorsCoverageTests {
    private func open(_ header: String, data: [UInt8], headerLength: UInt64? = nil) throws -> (String, SafeTensorsError?) {
        let dir = try makeTempDir("coverage")
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("bad.safetensors")
        try writeRawSafeTensors(url, header: header, data: data, headerLength: headerLength)
        return (url.path, openError(url))
    }

    private let twoTensors = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#

    @Test func headerLengthOneByteShortIsRefused() throws {
        // Padding keeps the JSON valid when the length is one short; the data would start a byte early.
        let header = twoTensors + "  "
        let (path, e) = try open(header, data: [UInt8](repeating: 0, count: 8), headerLength: UInt64(header.utf8.count - 1))
        #expect(e == .trailingBytes(file: path, covered: 8, dataSize: 9))
        #expect(e?.description.contains("cover 8 of the 9 bytes") == true)
    }

    @Test func trailingBytesAndGapsAreRefused() throws {
        let (path, trailing) = try open(twoTensors, data: [UInt8](repeating: 0, count: 12))
        #expect(trailing == .trailingBytes(file: path, covered: 8, dataSize: 12))
        let gapped = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let (path2, gap) = try open(gapped, data: [UInt8](repeating: 0, count: 12))
        #expect(gap == .gap(file: path2, tensor: "b", begin: 8, expected: 4))
        let late = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let (path3, start) = try open(late, data: [UInt8](repeating: 0, count: 8))
        #expect(start == .gap(file: path3, tensor: "a", begin: 4, expected: 0))
    }

    @Test func exactCoverageStillOpens() throws {
        let (_, e) = try open(twoTensors, data: [UInt8](repeating: 0, count: 8))
        #expect(e == nil)
    }

    @Test func duplicateTensorNamesAreRefused() throws {
        let dup = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let (path, e) = try open(dup, data: [UInt8](repeating: 0, count: 8))
        guard case let .headerNotJSON(file, reason)? = e else {
            Issue.record("expected headerNotJSON, got \(String(describing: e))")
            return
        }
        #expect(file == path)
        #expect(reason.contains("line 1, column 55: the key \"a\" appears twice in one object"))
    }

    @Test func metadataMustMapStringsToStrings() throws {
        let (path, list) = try open(#"{"__metadata__":[1,2]}"#, data: [])
        #expect(list == .badMetadata(file: path, reason: "it is [1, 2], not an object"))
        let (path2, number) = try open(#"{"__metadata__":{"format":"pt","n":3}}"#, data: [])
        #expect(number == .badMetadata(file: path2, reason: "the value of \"n\" is 3, not a string"))
        let (_, fine) = try open(#"{"__metadata__":{"format":"pt"}}"#, data: [])
        #expect(fine == nil)
    }

    @Test func hugeHeaderLengthIsRefusedBeforeParsing() throws {
        // A sparse file: 8-byte length of 200 MB, then 200 MB of holes.
        let dir = try makeTempDir("coverage")
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("huge.safetensors")
        try writeRawSafeTensors(url, header: "", data: [], headerLength: 200_000_000)
        let h = try FileHandle(forWritingTo: url)
        try h.truncate(atOffset: 200_000_100)
        try h.close()
        #expect(openError(url) == .headerTooLarge(file: url.path, headerLength: 200_000_000, limit: 100_000_000))
    }

    @Test func integerDTypeOnAWeightIsRefused() throws {
        let dir = try makeTempDir("coverage")
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try writeRawSafeTensors(url, header: #"{"wte.weight":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 1, count: 8))
        let checkpoint = try Checkpoint(directory: dir)
        let e = caught(SafeTensorsError.self) { try checkpoint.tensor("wte.weight") }
        #expect(e == .integerWeight(file: url.path, tensor: "wte.weight", dtype: "I32"))
        #expect(e?.description == "\(url.path): tensor 'wte.weight' is a weight but has the integer dtype I32; weights must be F32, F16 or BF16")
    }
}

extension SafeTensorsCoverageTests {
    @Test func absurdTensorCountIsRefusedBeforeParsing() throws {
        let entry = #""t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}"#
        let header = "{" + Array(repeating: entry, count: 200_001).joined(separator: ",") + "}"
        let (path, e) = try open(header, data: [])
        #expect(e == .tooManyTensors(file: path, count: 200_001, limit: 200_000))
    }
}
