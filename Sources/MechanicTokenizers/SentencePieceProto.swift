import Foundation

// A SentencePiece `tokenizer.model` is a serialized protobuf `ModelProto`
// (sentencepiece_model.proto). No Swift protobuf package is available to this project's builds,
// and only a handful of fields matter, so this file reads the wire format directly: varints,
// length-delimited fields and fixed32 floats, skipping every field it does not know.

/// What Mechanic reads from a SentencePiece `ModelProto`.
struct SentencePieceModelProto {
    /// `SentencePiece.Type`.
    enum PieceType: Int {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        var piece: String
        var score: Float
        var type: PieceType
    }

    /// `TrainerSpec.ModelType`.
    enum ModelType: Int {
        case unigram = 1, bpe = 2, word = 3, char = 4
        var name: String { ["unigram", "BPE", "word", "char"][rawValue - 1] }
    }

    var pieces: [Piece] = []
    // trainer_spec (field 2); defaults as in sentencepiece_model.proto.
    var modelType: ModelType = .unigram
    var byteFallback = false
    var treatWhitespaceAsSuffix = false
    var unkId = 0
    var bosId = 1
    var eosId = 2
    var padId = -1
    var unkSurface = " \u{2047} "
    // normalizer_spec (field 3).
    var normalizerName = ""
    var precompiledCharsmapCount = 0
    var addDummyPrefix = true
    var removeExtraWhitespaces = true
    var escapeWhitespaces = true

    /// Parses the bytes of a `tokenizer.model`; `file` names it in errors.
    init(data: Data, file: String) throws {
        let bytes = [UInt8](data)
        var r = ProtoReader(bytes: bytes[...], file: file, path: "ModelProto")
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2): pieces.append(try Self.piece(try r.subReader("pieces[\(pieces.count)]")))
            case (2, 2): try readTrainerSpec(try r.subReader("trainer_spec"))
            case (3, 2): try readNormalizerSpec(try r.subReader("normalizer_spec"))
            default: try r.skip(wire)
            }
        }
    }

    private static func piece(_ reader: ProtoReader) throws -> Piece {
        var r = reader
        var p = Piece(piece: "", score: 0, type: .normal)
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2): p.piece = try r.string()
            case (2, 5): p.score = try r.float()
            case (3, 0):
                let raw = try r.varint()
                guard let type = PieceType(rawValue: Int(truncatingIfNeeded: raw)) else {
                    throw r.invalid("type", String(raw), "a piece type between 1 (NORMAL) and 6 (BYTE)")
                }
                p.type = type
            default: try r.skip(wire)
            }
        }
        return p
    }

    private mutating func readTrainerSpec(_ reader: ProtoReader) throws {
        var r = reader
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (3, 0):
                let raw = try r.varint()
                guard let type = ModelType(rawValue: Int(truncatingIfNeeded: raw)) else {
                    throw r.invalid("model_type", String(raw), "1 (UNIGRAM), 2 (BPE), 3 (WORD) or 4 (CHAR)")
                }
                modelType = type
            case (24, 0): treatWhitespaceAsSuffix = try r.varint() != 0
            case (35, 0): byteFallback = try r.varint() != 0
            case (40, 0): unkId = Int(Int32(truncatingIfNeeded: try r.varint()))
            case (41, 0): bosId = Int(Int32(truncatingIfNeeded: try r.varint()))
            case (42, 0): eosId = Int(Int32(truncatingIfNeeded: try r.varint()))
            case (43, 0): padId = Int(Int32(truncatingIfNeeded: try r.varint()))
            case (44, 2): unkSurface = try r.string()
            default: try r.skip(wire)
            }
        }
    }

    private mutating func readNormalizerSpec(_ reader: ProtoReader) throws {
        var r = reader
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2): normalizerName = try r.string()
            case (2, 2): precompiledCharsmapCount = try r.lengthDelimited().count
            case (3, 0): addDummyPrefix = try r.varint() != 0
            case (4, 0): removeExtraWhitespaces = try r.varint() != 0
            case (5, 0): escapeWhitespaces = try r.varint() != 0
            default: try r.skip(wire)
            }
        }
    }
}

/// A cursor over protobuf wire-format bytes. Every error names the file and the field path.
struct ProtoReader {
    var bytes: ArraySlice<UInt8>
    let file: String
    let path: String

    func invalid(_ key: String, _ value: String, _ expected: String) -> TokenizerError {
        .invalidValue(file: file, key: "\(path).\(key)", value: value, expected: expected)
    }

    private func truncated() -> TokenizerError {
        .invalidValue(file: file, key: path, value: "a truncated or corrupt protobuf message",
                      expected: "a SentencePiece ModelProto as written by sentencepiece")
    }

    /// The next (field number, wire type), or nil at the end of the message.
    mutating func nextField() throws -> (Int, Int)? {
        if bytes.isEmpty { return nil }
        let key = try varint()
        let field = Int(key >> 3), wire = Int(key & 7)
        guard field > 0 else { throw truncated() }
        return (field, wire)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while let b = bytes.popFirst() {
            guard shift < 64 else { throw truncated() }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
        throw truncated()
    }

    mutating func lengthDelimited() throws -> ArraySlice<UInt8> {
        let n = try varint()
        guard n <= UInt64(bytes.count) else { throw truncated() }
        let out = bytes.prefix(Int(n))
        bytes = bytes.dropFirst(Int(n))
        return out
    }

    mutating func string() throws -> String {
        let b = try lengthDelimited()
        // Checked in place, then decoded (no copy, and no generic validation per piece).
        let s = b.withUnsafeBufferPointer { UTF8Check.isValid($0) ? String(decoding: $0, as: UTF8.self) : nil }
        guard let s else {
            throw invalid("(string)", "\(b.count) bytes that are not UTF-8", "UTF-8 text")
        }
        return s
    }

    mutating func float() throws -> Float {
        guard bytes.count >= 4 else { throw truncated() }
        var bits: UInt32 = 0
        for (i, b) in bytes.prefix(4).enumerated() { bits |= UInt32(b) << (8 * UInt32(i)) }
        bytes = bytes.dropFirst(4)
        return Float(bitPattern: bits)
    }

    mutating func subReader(_ name: String) throws -> ProtoReader {
        ProtoReader(bytes: try lengthDelimited(), file: file, path: "\(path).\(name)")
    }

    mutating func skip(_ wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1:
            guard bytes.count >= 8 else { throw truncated() }
            bytes = bytes.dropFirst(8)
        case 2: _ = try lengthDelimited()
        case 5:
            guard bytes.count >= 4 else { throw truncated() }
            bytes = bytes.dropFirst(4)
        default: throw truncated()
        }
    }
}
