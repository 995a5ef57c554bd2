import Foundation
import Testing
import MechanicIO

/// Each malformed file is refused with a typed error whose message names the file (and the
/// tensor, where one is at fault).
@Suite struct SafeTensorsCorruptTests {
    /// Writes `header`/`data` by hand, opens it, and returns the path and the error.
    private func open(_ header: String, data: [UInt8] = [], headerLength: UInt64? = nil) throws -> (String, SafeTensorsError?) {
        let dir = try makeTempDir("corrupt")
        let url = dir.appendingPathComponent("bad.safetensors")
        try writeRawSafeTensors(url, header: header, data: data, headerLength: headerLength)
        let error = openError(url)
        cleanUp(dir)
        return (url.path, error)
    }

    @Test func fileShorterThanEightBytes() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3, 4, 5]).write(to: url)
        let e = openError(url)
        #expect(e == .truncatedHeader(file: url.path, size: 5))
        #expect(e?.description.contains(url.path) == true)

        let empty = dir.appendingPathComponent("empty.safetensors")
        try Data().write(to: empty)
        #expect(openError(empty) == .truncatedHeader(file: empty.path, size: 0))
    }

    @Test func headerLengthPastEndOfFile() throws {
        let (path, e) = try open("{}", headerLength: 1000)
        #expect(e == .headerLengthPastEnd(file: path, headerLength: 1000, fileSize: 10))
        #expect(e?.description.contains(path) == true)
        // A length near UInt64.max must not overflow into a "valid" one.
        let (path2, huge) = try open("{}", headerLength: UInt64.max - 3)
        #expect(huge == .headerLengthPastEnd(file: path2, headerLength: UInt64.max - 3, fileSize: 10))
    }

    @Test func headerThatIsNotJSON() throws {
        let (path, e) = try open("{not json at all", data: [0, 0, 0, 0])
        guard case let .headerNotJSON(file, _)? = e else {
            Issue.record("expected headerNotJSON, got \(String(describing: e))")
            return
        }
        #expect(file == path)
        #expect(e?.description.contains(path) == true)
    }

    @Test func headerThatIsNotAnObject() throws {
        let (path, e) = try open("[1, 2, 3]")
        guard case let .headerNotJSON(file, reason)? = e else {
            Issue.record("expected headerNotJSON, got \(String(describing: e))")
            return
        }
        #expect(file == path)
        #expect(reason.contains("not an object"))
    }

    @Test func overlappingRanges() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let (path, e) = try open(header, data: floatBytes([1, 2, 3]))
        #expect(e == .overlapping(file: path, tensor: "b", other: "a"))
        #expect(e?.description.contains("'a'") == true && e?.description.contains("'b'") == true)
    }

    @Test func offsetsPastTheDataSection() throws {
        let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let (path, e) = try open(header, data: floatBytes([1, 2]))
        #expect(e == .offsetsOutOfRange(file: path, tensor: "w", end: 16, dataSize: 8))
        #expect(e?.description.contains("'w'") == true)
        #expect(e?.description.contains(path) == true)
    }

    @Test func unknownDType() throws {
        let header = #"{"q":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}}"#
        let (path, e) = try open(header, data: [0, 0])
        #expect(e == .unknownDType(file: path, tensor: "q", dtype: "Q4_K"))
        #expect(e?.description.contains("Q4_K") == true)
    }

    @Test func shapeTimesDTypeDisagreesWithByteRange() throws {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        let (path, e) = try open(header, data: floatBytes([1, 2]))
        #expect(e == .sizeMismatch(file: path, tensor: "w", shape: [3], dtype: "F32", byteCount: 8))
        // A shape whose element count overflows Int is a size mismatch, not a crash.
        let huge = #"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#
        let (path2, e2) = try open(huge, data: floatBytes([1, 2]))
        #expect(e2 == .sizeMismatch(file: path2, tensor: "w", shape: [4294967296, 4294967296], dtype: "F32", byteCount: 8))
    }

    @Test func malformedEntries() throws {
        let cases = [
            #"{"w":[1,2]}"#,
            #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#,
            #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
            #"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#,
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[true,4]}}"#,
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#,
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
        ]
        for header in cases {
            let (path, e) = try open(header, data: floatBytes([1]))
            guard case let .badEntry(file, tensor, _)? = e else {
                Issue.record("\(header): expected badEntry, got \(String(describing: e))")
                continue
            }
            #expect(file == path)
            #expect(tensor == "w")
        }
    }

    @Test func nonIntegerValuesAreNotReadAsIntegers() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("f.safetensors")
        try writeRawSafeTensors(url, header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                                data: floatBytes([3, .nan]))
        let f = try SafeTensorsFile(url: url)
        let e = caught(SafeTensorsError.self) { try f.integers("x") }
        guard case let .badEntry(file, tensor, _)? = e else {
            Issue.record("expected badEntry, got \(String(describing: e))")
            return
        }
        #expect(file == url.path && tensor == "x")
    }

    @Test func directoryAndMissingFileCannotBeOpened() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        let missing = dir.appendingPathComponent("nope.safetensors")
        guard case let .cannotOpen(file, _)? = openError(missing) else {
            Issue.record("expected cannotOpen")
            return
        }
        #expect(file == missing.path)
        guard case .cannotOpen? = openError(dir) else {
            Issue.record("expected cannotOpen for a directory")
            return
        }
    }
}
