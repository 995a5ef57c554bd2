import Mechanic

/// Bounds of integer options, checked before any work: each failure is one sentence naming the
/// option and the value given.
func requireAtLeast(_ minimum: Int, _ value: Int?, _ option: String) throws {
    guard let value, value < minimum else { return }
    throw MechanicError.invalidArgument("\(option) must be at least \(minimum), found \(value)")
}

/// Upper bounds of options that size an allocation up front (a heap of examples, histogram bins).
func requireAtMost(_ maximum: Int, _ value: Int?, _ option: String, _ why: String) throws {
    guard let value, value > maximum else { return }
    throw MechanicError.invalidArgument("\(option) must be at most \(maximum) (\(why)), found \(value)")
}

/// The most token positions one forward of a command may hold (batch × sequence length): a
/// float32 GPT-2-small forward at this size already needs gigabytes, so beyond it the run would
/// exhaust memory long before it finished.
let maxPositionsPerForward = 1 << 16

/// `batch × length` tokens in one forward, refused with the option names when it overflows or
/// exceeds `maxPositionsPerForward`.
func requirePositions(batch: Int, length: Int, _ options: String) throws {
    let (n, overflow) = batch.multipliedReportingOverflow(by: length)
    guard overflow || n > maxPositionsPerForward else { return }
    throw MechanicError.invalidArgument("\(options) ask for \(batch) × \(length) token positions in one forward, more than the \(maxPositionsPerForward) this command allows; use a smaller batch")
}
