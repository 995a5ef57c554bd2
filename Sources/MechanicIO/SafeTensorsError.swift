/// Everything that can be wrong with a safetensors file or with the tensors a model expects.
/// Each message names the file and, where there is one, the tensor.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(file: String, reason: String)
    case truncatedHeader(file: String, size: Int)
    case headerLengthPastEnd(file: String, headerLength: UInt64, fileSize: Int)
    case headerNotJSON(file: String, reason: String)
    case badEntry(file: String, tensor: String, reason: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case sizeMismatch(file: String, tensor: String, shape: [Int], dtype: String, byteCount: Int)
    case offsetsOutOfRange(file: String, tensor: String, end: Int, dataSize: Int)
    case overlapping(file: String, tensor: String, other: String)
    case missingTensor(file: String, tensor: String)
    case wrongShape(file: String, tensor: String, expected: [Int], found: [Int])
    case badIndex(file: String, reason: String)
    case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
    case badMetadata(file: String, reason: String)
    case gap(file: String, tensor: String, begin: Int, expected: Int)
    case trailingBytes(file: String, covered: Int, dataSize: Int)
    case integerWeight(file: String, tensor: String, dtype: String)
    case tooManyTensors(file: String, count: Int, limit: Int)

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            return "cannot open \(file): \(reason)"
        case let .truncatedHeader(file, size):
            return "\(file) is not a safetensors file: it has \(size) bytes, fewer than the 8-byte header length"
        case let .headerLengthPastEnd(file, n, size):
            return "\(file): the header length \(n) runs past the end of the \(size)-byte file (truncated?)"
        case let .headerNotJSON(file, reason):
            return "\(file): the safetensors header is not a JSON object (\(reason))"
        case let .badEntry(file, tensor, reason):
            return "\(file): tensor '\(tensor)' has a malformed header entry: \(reason)"
        case let .unknownDType(file, tensor, dtype):
            return "\(file): tensor '\(tensor)' has dtype \(dtype); Mechanic reads F32, F16, BF16 (and I64/I32 for token ids)"
        case let .sizeMismatch(file, tensor, shape, dtype, bytes):
            return "\(file): tensor '\(tensor)' of shape \(shape) and dtype \(dtype) needs a different size than its \(bytes)-byte range"
        case let .offsetsOutOfRange(file, tensor, end, dataSize):
            return "\(file): tensor '\(tensor)' ends at byte \(end) but the data section has only \(dataSize) bytes (truncated file?)"
        case let .overlapping(file, tensor, other):
            return "\(file): tensors '\(tensor)' and '\(other)' have overlapping byte ranges"
        case let .missingTensor(file, tensor):
            return "\(file): tensor '\(tensor)' is missing"
        case let .wrongShape(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has shape \(found) but the config implies \(expected)"
        case let .badIndex(file, reason):
            return "\(file): \(reason)"
        case let .headerTooLarge(file, n, limit):
            return "\(file): the header length \(n) is more than the \(limit) bytes a safetensors header may have (corrupt file?)"
        case let .badMetadata(file, reason):
            return "\(file): the header's __metadata__ must map strings to strings, but \(reason)"
        case let .gap(file, tensor, begin, expected):
            return "\(file): tensor '\(tensor)' begins at data byte \(begin), but the tensors before it end at byte \(expected) (a gap: the header length or an offset is wrong)"
        case let .trailingBytes(file, covered, dataSize):
            return "\(file): the tensors cover \(covered) of the \(dataSize) bytes in the data section (the header length or an offset is wrong, or the file has trailing bytes)"
        case let .tooManyTensors(file, count, limit):
            return "\(file): the header lists \(count) tensors, more than the \(limit) one safetensors file may hold (corrupt file?)"
        case let .integerWeight(file, tensor, dtype):
            return "\(file): tensor '\(tensor)' is a weight but has the integer dtype \(dtype); weights must be F32, F16 or BF16"
        }
    }
}
