import Foundation

/// Memory figures from the kernel (Linux `/proc`; conservative fallbacks elsewhere).
public enum SystemMemory {
    /// `MemAvailable` in bytes.
    public static func availableBytes() -> Int {
        if let kb = procValue("/proc/meminfo", "MemAvailable:") { return kb * 1024 }
        return Int(ProcessInfo.processInfo.physicalMemory / 2)
    }

    /// Peak resident set size of this process (`VmHWM`), in bytes.
    public static func peakResidentBytes() -> Int { (procValue("/proc/self/status", "VmHWM:") ?? 0) * 1024 }

    /// Current resident set size (`VmRSS`), in bytes.
    public static func residentBytes() -> Int { (procValue("/proc/self/status", "VmRSS:") ?? 0) * 1024 }

    private static func procValue(_ file: String, _ key: String) -> Int? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            return Int(line.dropFirst(key.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }
}
