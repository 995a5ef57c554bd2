import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// Runs the `mechanic` executable that `swift test` built next to the test bundle.
enum CLI {
    static var fixtures: URL { TestFixtures.root }

    static func model(_ name: String) -> String { fixtures.appendingPathComponent("models/\(name)").path }

    static var binary: URL {
        // .build/<triple>/debug/MechanicPackageTests.xctest → .build/<triple>/debug/mechanic
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mechanic")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/mechanic")
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// The processed-weights cache of the commands these tests run: a directory of this test
    /// process (never the user's ~/.cache).
    static let weightCache: URL = FileManager.default.temporaryDirectory
        .appendingPathComponent("mechanic-cli-tests-cache-\(getpid())")

    /// This process's environment with `MECHANIC_CACHE` set to `weightCache`.
    static var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["MECHANIC_CACHE"] = weightCache.path
        return env
    }

    /// Runs `mechanic` (or `executable`) with `args`, in `environment` plus `extra`.
    static func run(_ args: [String], executable: URL? = nil, extra: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = executable ?? binary
        p.arguments = args
        p.environment = environment.merging(extra) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func json(_ r: Result) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }
}
