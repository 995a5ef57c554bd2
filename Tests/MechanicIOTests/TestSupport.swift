import Foundation
import MechanicIO

/// A fresh directory under the system temp dir, removed by the caller with `cleanUp`.
func makeTempDir(_ label: String = "io") throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("mechanic-\(label)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func cleanUp(_ url: URL) {
    try? FileManager.default.removeItem(at: url)
}

/// Writes a safetensors file by hand: the 8-byte little-endian header length, `header` as is
/// (no padding unless the caller adds it), then `data`.
func writeRawSafeTensors(_ url: URL, header: String, data: [UInt8], headerLength: UInt64? = nil) throws {
    let json = Array(header.utf8)
    var bytes: [UInt8] = []
    var n = (headerLength ?? UInt64(json.count)).littleEndian
    withUnsafeBytes(of: &n) { bytes.append(contentsOf: $0) }
    bytes += json + data
    try Data(bytes).write(to: url)
}

/// The `SafeTensorsError` that opening `url` throws, or nil when it opens (or throws another type).
func openError(_ url: URL) -> SafeTensorsError? {
    do {
        _ = try SafeTensorsFile(url: url)
        return nil
    } catch let e as SafeTensorsError {
        return e
    } catch {
        return nil
    }
}

/// The typed error a throwing expression raises, or nil.
func caught<E: Error, T>(_ type: E.Type, _ body: () throws -> T) -> E? {
    do {
        _ = try body()
        return nil
    } catch let e as E {
        return e
    } catch {
        return nil
    }
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
}
