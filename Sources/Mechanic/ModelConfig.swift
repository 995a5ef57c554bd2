/// The architecture of a hooked model, mirroring TransformerLens's `HookedTransformerConfig`.
/// Built from a Hugging Face `config.json` by one of the files in `Architectures/`.
public struct ModelConfig: Sendable, Equatable, Codable {
    public enum Normalization: String, Sendable, Codable {
        case layerNorm = "LN", layerNormPre = "LNPre", rmsNorm = "RMS", rmsNormPre = "RMSPre", none
    }
    public enum PositionalEmbedding: String, Sendable, Codable { case standard, rotary }

    /// Llama-3 style frequency scaling of rotary embeddings (`rope_scaling.rope_type == "llama3"`).
    public struct RopeScaling: Sendable, Equatable, Codable {
        public var factor: Double
        public var lowFreqFactor: Double
        public var highFreqFactor: Double
        public var originalMaxPositionEmbeddings: Double
    }

    public var modelType: String
    public var dModel: Int
    public var nLayers: Int
    public var nHeads: Int
    public var dHead: Int
    public var nKeyValueHeads: Int
    public var dMLP: Int
    public var dVocab: Int
    public var nCtx: Int
    public var actFn: String
    public var normalization: Normalization
    /// `normalization` of the final norm (TransformerLens folds both the same way).
    public var eps: Float
    public var positionalEmbedding: PositionalEmbedding
    public var rotaryDim: Int
    public var rotaryBase: Double
    public var ropeScaling: RopeScaling?
    public var parallelAttnMLP: Bool
    public var gatedMLP: Bool
    public var attnOnly: Bool
    public var scaleAttnByInverseLayerIdx: Bool
    public var defaultPrependBOS: Bool
    public var tiedEmbeddings: Bool
    /// Attention window of sliding-window models; inputs longer than this are refused.
    public var slidingWindow: Int?

    public init(modelType: String, dModel: Int, nLayers: Int, nHeads: Int, dHead: Int, nKeyValueHeads: Int? = nil,
                dMLP: Int, dVocab: Int, nCtx: Int, actFn: String = "gelu_new", normalization: Normalization = .layerNorm,
                eps: Float = 1e-5, positionalEmbedding: PositionalEmbedding = .standard, rotaryDim: Int = 0,
                rotaryBase: Double = 10000, ropeScaling: RopeScaling? = nil, parallelAttnMLP: Bool = false,
                gatedMLP: Bool = false, attnOnly: Bool = false, scaleAttnByInverseLayerIdx: Bool = false,
                defaultPrependBOS: Bool = true, tiedEmbeddings: Bool = false, slidingWindow: Int? = nil) {
        self.modelType = modelType
        self.dModel = dModel
        self.nLayers = nLayers
        self.nHeads = nHeads
        self.dHead = dHead
        self.nKeyValueHeads = nKeyValueHeads ?? nHeads
        self.dMLP = dMLP
        self.dVocab = dVocab
        self.nCtx = nCtx
        self.actFn = actFn
        self.normalization = normalization
        self.eps = eps
        self.positionalEmbedding = positionalEmbedding
        self.rotaryDim = rotaryDim
        self.rotaryBase = rotaryBase
        self.ropeScaling = ropeScaling
        self.parallelAttnMLP = parallelAttnMLP
        self.gatedMLP = gatedMLP
        self.attnOnly = attnOnly
        self.scaleAttnByInverseLayerIdx = scaleAttnByInverseLayerIdx
        self.defaultPrependBOS = defaultPrependBOS
        self.tiedEmbeddings = tiedEmbeddings
        self.slidingWindow = slidingWindow
    }

    /// Whether keys/values have fewer heads than queries (grouped-query attention).
    public var isGroupedQuery: Bool { nKeyValueHeads != nHeads }
    /// Query heads per key/value head.
    public var groupSize: Int { nHeads / nKeyValueHeads }
    /// Whether layer norms carry weights (false once folded).
    public var normHasWeights: Bool { normalization == .layerNorm || normalization == .rmsNorm }
    public var usesLayerNorm: Bool { normalization == .layerNorm || normalization == .layerNormPre }
    public var usesRMSNorm: Bool { normalization == .rmsNorm || normalization == .rmsNormPre }
}
