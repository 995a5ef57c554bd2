import ArgumentParser
import MechanicAnalysis

// Option values the argument parser checks itself (a wrong value is an error listing the valid
// ones), instead of strings compared by hand.

// Option values of `heads` parsed by the argument parser itself.
extension ErrorMeasure: ExpressibleByArgument {}
extension CopyEmbedding: ExpressibleByArgument {}
extension CompositionMode: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}
extension HeadKind: ExpressibleByArgument {
    /// `previous_token`, `duplicate_token`, `induction` or TransformerLens's `*_head` names.
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { ["previous_token", "duplicate_token", "induction"] }
}

// Option values of `patch`.
extension ActPatchKind: ExpressibleByArgument {}
extension ActPatchKind.NeuronPositions: ExpressibleByArgument {}
extension PatchingMetric: ExpressibleByArgument {}
extension AblationMode: ExpressibleByArgument {}
extension PatchEngine: ExpressibleByArgument {}
extension AttributionMethod: ExpressibleByArgument {}

// Option values of `dataset`, `neurons` and `congruence`.
extension IOIDataset.Order: ExpressibleByArgument {}
extension IOIDataset.Corruption: ExpressibleByArgument {}
extension LengthPolicy: ExpressibleByArgument {}
extension CorpusFormat: ExpressibleByArgument {}
extension SimilarityMetric: ExpressibleByArgument {}
