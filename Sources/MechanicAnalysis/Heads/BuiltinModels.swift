import Mechanic

/// Models built in code rather than loaded from files, addressed by name wherever `--model` is
/// accepted: `planted:induction` is `PlantedInductionModel` (hand-set weights, no tokenizer, so
/// prompts are given as token ids).
public enum BuiltinModels {
    /// Every built-in model's name.
    public static let names = ["planted:induction"]

    /// True for names in the built-in namespace (`planted:…`), known or not.
    public static func isBuiltinName(_ name: String) -> Bool { name.hasPrefix("planted:") }

    /// The error of a command that needs a model's files (tokenizer files, a directory) when
    /// given a built-in model.
    public static func noFiles(_ name: String) -> MechanicError {
        .invalidArgument("\(name) is a built-in model with no files (no tokenizer); this command needs a model directory, hub id or alias")
    }

}

extension HookedTransformer {
    /// The built-in model called `name` (`planted:induction`), nil when `name` is not in the
    /// built-in namespace (a directory, hub id or alias); an unknown `planted:` name throws.
    public static func builtin(_ name: String) throws -> HookedTransformer? {
        guard BuiltinModels.isBuiltinName(name) else { return nil }
        switch name {
        case "planted:induction": return try PlantedInductionModel.build().model
        default:
            throw MechanicError.invalidArgument("'\(name)' is not a built-in model; built-in models are \(BuiltinModels.names.joined(separator: ", "))")
        }
    }
}
