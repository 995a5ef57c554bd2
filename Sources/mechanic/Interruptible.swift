import ArgumentParser
import Dispatch
import Foundation
import Mechanic

/// Long work on the command line (a patching sweep): a progress bar with an ETA on stderr
/// (after a second of work, on a terminal, unless `--quiet`) and Ctrl-C. The first Ctrl-C
/// cancels the work, which stops at its next chunk boundary; the command then clears the bar,
/// says how far it got and that nothing was written, and exits with status 130 (128 + SIGINT).
/// A second Ctrl-C exits at once.
enum Interruptible {
    /// Runs `body` with a `WorkProgress` counting `unit` that Ctrl-C cancels. Callers write their
    /// outputs only after this returns, so an interrupted command leaves no partial file.
    static func run<T>(unit: String, quiet: Bool, _ body: (WorkProgress) throws -> T) throws -> T {
        let token = CancellationToken()
        let line = ProgressLine(enabled: !quiet)
        let progress = WorkProgress(unit: unit, cancellation: token) { done, total in line.update(done: done, total: total, unit: unit) }
        let handler = SignalHandler(SIGINT) {
            if token.isCancelled {   // the second Ctrl-C: the work has not reached a stopping point yet
                FileHandle.standardError.write(Data("\ninterrupted; nothing was written\n".utf8))
                _exit(130)
            }
            token.cancel()
        }
        defer { handler.stop() }
        do {
            let value = try body(progress)
            try progress.check()   // Ctrl-C after the last chunk still means "stop"
            line.clear()
            return value
        } catch let MechanicError.cancelled(done, total, unit) {
            line.clear()
            let progressText = total > 0 ? "after \(done) of \(total) \(unit)" : "before the sweep started"
            FileHandle.standardError.write(Data("interrupted \(progressText); nothing was written\n".utf8))
            throw ExitCode(130)
        } catch {
            line.clear()
            throw error
        }
    }
}

/// Handles a signal on a dispatch queue instead of by its default action, until `stop`.
final class SignalHandler {
    private let signalNumber: Int32
    private let source: DispatchSourceSignal

    init(_ signalNumber: Int32, _ handler: @escaping @Sendable () -> Void) {
        self.signalNumber = signalNumber
        signal(signalNumber, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "mechanic.signal"))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    /// Restores the default action.
    func stop() {
        source.cancel()
        signal(signalNumber, SIG_DFL)
    }
}
