import Foundation
import Testing
@testable import MechanicIO
import MechanicTensor

/// Files laid out for mapping (`SafeTensorsWriter.pagePhase`) and arrays whose pages are the
/// file's (`MappedArray`).
@Suite struct MappedArrayTests {
    func ramp(_ n: Int, _ scale: Float) -> Tensor { Tensor(shape: [n], data: (0..<n).map { Float($0) * scale - 7 }) }

    @Test func alignedFileKeepsItsValuesAndMapsInPlace() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mapped-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let big = ramp(300_001, 0.5), small = ramp(5, 2), other = ramp(70_000, -0.25)
        var w = SafeTensorsWriter()
        w.pagePhase = MappedArray.pagePhase
        w.add("small", small)
        w.add("big", shape: big.shape) { big }
        w.add("other", other)
        try w.write(to: url)

        let st = try SafeTensorsFile(url: url)   // still a valid safetensors file (padding entries cover the gaps)
        #expect(try st.tensor("big") == big && st.tensor("small") == small && st.tensor("other") == other)
        for name in ["big", "other"] {
            #expect(try st.info(name).byteOffset % MappedArray.pageSize == MappedArray.pagePhase, "\(name)")
        }
        #expect(st.names.contains { $0.hasPrefix("__pad__.") })

        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        for (name, t) in [("big", big), ("other", other), ("small", small)] {
            let info = try st.info(name)
            var (values, mapped) = try MappedArray.floats(fd: fd, path: url.path, byteOffset: info.byteOffset, count: info.count)
            #expect(values == t.data, "\(name)")
            #if os(Linux)
            #expect(mapped == (info.byteCount >= MappedArray.minimumMappedBytes), "\(name)")
            #endif
            // Writing to the array changes a private copy, never the file.
            values[values.count / 2] = 99
            #expect(values[values.count / 2] == 99)
        }
        #expect(try SafeTensorsFile(url: url).tensor("big") == big)
    }

    @Test func misalignedDataIsReadInstead() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unaligned-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let big = ramp(200_000, 0.125)
        var w = SafeTensorsWriter()
        w.pagePhase = (MappedArray.pagePhase + 16) % MappedArray.pageSize   // the wrong offset within a page
        w.add("big", big)
        try w.write(to: url)
        let info = try SafeTensorsFile(url: url).info("big")
        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        let (values, mapped) = try MappedArray.floats(fd: fd, path: url.path, byteOffset: info.byteOffset, count: info.count)
        #expect(values == big.data)
        #expect(!mapped)
    }

    @Test func shortFileIsAnErrorNamingIt() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("short-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(count: 1000).write(to: url)
        let fd = open(url.path, O_RDONLY)
        defer { close(fd) }
        #expect(throws: SafeTensorsError.self) { _ = try MappedArray.floats(fd: fd, path: url.path, byteOffset: 0, count: 100_000) }
    }
}
