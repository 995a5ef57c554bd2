import Mechanic

/// The flag that answers a library error, added to its message where the CLI prints it (the
/// libraries name no command-line flags).
func flagAdvice(_ message: String, for error: Error) -> String {
    switch error {
    case MechanicError.cacheTooLarge:
        return message + " (--names 'hook_resid_post$' caches only the residual stream)"
    default:
        return message
    }
}
