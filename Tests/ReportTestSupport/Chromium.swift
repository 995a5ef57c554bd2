import Foundation

/// Headless Chromium (Debian's `chromium`), when installed: renders a report to a PNG as a
/// person would see it.
public enum Chromium {
    public static let executable: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            for name in ["chromium", "chromium-browser", "google-chrome"] {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }()

    /// Renders `html` at `width × height` into `png` and returns the PNG bytes.
    public static func screenshot(_ html: URL, png: URL, width: Int = 1200, height: Int = 900) throws -> Data {
        guard let exe = executable else { throw CocoaError(.fileNoSuchFile) }
        try? FileManager.default.removeItem(at: png)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--screenshot=\(png.path)",
                       "--window-size=\(width),\(height)", html.absoluteString]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return try Data(contentsOf: png)
    }

    /// Width and height from a PNG's IHDR chunk (nil when `data` is not a PNG).
    public static func pngSize(_ data: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
              bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }  // "IHDR"
        let be = { (o: Int) in bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }
}
