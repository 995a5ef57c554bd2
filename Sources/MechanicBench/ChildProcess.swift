#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Mechanic

/// A child process run to completion for a benchmark: its wall time and its own peak resident
/// set and CPU time (`wait4`'s resource usage of that child alone). Output is discarded.
public enum ChildProcess {
    public struct Run: Sendable {
        public var seconds: Double
        /// User + system CPU seconds of the child (all its threads).
        public var cpuSeconds: Double
        public var peakRSS: Int
    }

    /// This executable's path (`/proc/self/exe` on Linux).
    public static func selfExecutable() throws -> String {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        guard let first = CommandLine.arguments.first else { throw MechanicError.invalidArgument("cannot find this program's path") }
        return URL(fileURLWithPath: first).standardizedFileURL.path
    }

    /// Runs `executable arguments` with `environment` added to this process's, stdout and stderr
    /// to /dev/null; throws when it cannot start or exits non-zero.
    public static func run(_ executable: String, _ arguments: [String], environment: [String] = []) throws -> Run {
        var env = ProcessInfo.processInfo.environment
        for entry in environment {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { env[parts[0]] = parts[1] }
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let start = Date()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw MechanicError.invalidArgument("cannot run \(executable): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw MechanicError.invalidArgument("waiting for \(executable): \(String(cString: strerror(errno)))") }
        }
        let seconds = Date().timeIntervalSince(start)
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            throw MechanicError.invalidArgument("\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments.prefix(1).joined()) failed (status \(status)): run it by hand to see why")
        }
        #if os(Linux)
        let peak = Int(usage.ru_maxrss) * 1024   // kilobytes on Linux
        #else
        let peak = Int(usage.ru_maxrss)          // bytes on Darwin
        #endif
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return Run(seconds: seconds, cpuSeconds: cpu, peakRSS: peak)
    }
}
