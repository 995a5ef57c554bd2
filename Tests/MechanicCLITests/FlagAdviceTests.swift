import Mechanic
import Testing
@testable import mechanic

/// The CLI adds the flag that answers a library error; the library's message names none.
@Suite struct FlagAdviceTests {
    @Test func aCacheTooLargeForMemoryGetsTheNamesFlag() {
        let e = MechanicError.cacheTooLarge(bytes: 3_000_000_000, available: 2_000_000_000, residPostBytes: 100_000_000)
        #expect(flagAdvice("\(e)", for: e) == "the cache would need about 3.0 GB but only 2.0 GB of memory is available; "
            + "cache fewer hook points (hook_resid_post alone is about 0.1 GB) or fewer/shorter prompts "
            + "(--names 'hook_resid_post$' caches only the residual stream)")
        #expect(flagAdvice("bad", for: MechanicError.invalidArgument("bad")) == "bad")
    }
}
