import Foundation
import Mechanic

/// One document of a corpus: text to tokenize, or token ids given directly.
public struct CorpusDocument: Sendable, Equatable {
    /// 0-based index in the corpus (skipped empty documents do not count).
    public var index: Int
    public var text: String?
    public var tokens: [Int]?
    public init(index: Int, text: String? = nil, tokens: [Int]? = nil) {
        self.index = index
        self.text = text
        self.tokens = tokens
    }
}

/// How a corpus file is split into documents.
public enum CorpusFormat: String, Sendable, CaseIterable {
    /// One document per non-empty line.
    case lines
    /// Documents separated by blank lines (line breaks inside a paragraph are kept).
    case paragraphs
    /// One JSON object per line: `{"text": "..."}` or `{"tokens": [ids]}`.
    case jsonl

    /// `jsonl` for `.jsonl`/`.ndjson` files, `lines` otherwise.
    public static func guess(_ url: URL) -> CorpusFormat {
        ["jsonl", "ndjson"].contains(url.pathExtension.lowercased()) ? .jsonl : .lines
    }
}

/// A stream of documents; `fractionRead` (0…1, when known) drives progress bars.
public protocol DocumentSource {
    mutating func next() throws -> CorpusDocument?
    var fractionRead: Double? { get }
}

/// Documents held in memory.
public struct DocumentList: DocumentSource {
    private let documents: [CorpusDocument]
    private var i = 0
    public init(_ documents: [CorpusDocument]) { self.documents = documents }
    /// Token sequences as documents 0, 1, ….
    public init(tokens: [[Int]]) { documents = tokens.enumerated().map { CorpusDocument(index: $0, tokens: $1) } }
    public init(texts: [String]) { documents = texts.enumerated().map { CorpusDocument(index: $0, text: $1) } }
    public mutating func next() throws -> CorpusDocument? {
        guard i < documents.count else { return nil }
        defer { i += 1 }
        return documents[i]
    }
    public var fractionRead: Double? { documents.isEmpty ? 1 : Double(i) / Double(documents.count) }
}

/// Reads a corpus file lazily, a document at a time (memory bounded by the longest document).
public struct CorpusReader: DocumentSource {
    public let url: URL
    public let format: CorpusFormat
    private let lines: LineReader
    private var lineNumber = 0
    private var count = 0

    public init(url: URL, format: CorpusFormat? = nil) throws {
        self.url = url
        self.format = format ?? CorpusFormat.guess(url)
        lines = try LineReader(url: url)
    }

    public var fractionRead: Double? { lines.totalBytes > 0 ? min(Double(lines.bytesConsumed) / Double(lines.totalBytes), 1) : 1 }

    public mutating func next() throws -> CorpusDocument? {
        switch format {
        case .lines:
            while let line = lines.next() {
                lineNumber += 1
                if line.allSatisfy(\.isWhitespace) { continue }
                return emit(text: line)
            }
            return nil
        case .paragraphs:
            var para: [String] = []
            while let line = lines.next() {
                lineNumber += 1
                if line.allSatisfy(\.isWhitespace) {
                    if para.isEmpty { continue }
                    break
                }
                para.append(line)
            }
            return para.isEmpty ? nil : emit(text: para.joined(separator: "\n"))
        case .jsonl:
            while let line = lines.next() {
                lineNumber += 1
                if line.allSatisfy(\.isWhitespace) { continue }
                return try parseJSONLine(line)
            }
            return nil
        }
    }

    private mutating func emit(text: String? = nil, tokens: [Int]? = nil) -> CorpusDocument {
        defer { count += 1 }
        return CorpusDocument(index: count, text: text, tokens: tokens)
    }

    private mutating func parseJSONLine(_ line: String) throws -> CorpusDocument {
        let place = "\(url.path) line \(lineNumber)"
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(line.utf8)) } catch {
            throw MechanicError.invalidArgument("\(place) is not valid JSON; a .jsonl corpus holds one {\"text\": \"...\"} object per line")
        }
        guard let dict = object as? [String: Any] else {
            throw MechanicError.invalidArgument("\(place): expected a JSON object {\"text\": \"...\"} or {\"tokens\": [...]}")
        }
        if let text = dict["text"] as? String { return emit(text: text) }
        if let raw = dict["tokens"] as? [Any] {
            var ids: [Int] = []
            for v in raw {
                // (On Linux `1 is Bool` holds for NSNumber; booleans are told apart by their type.)
                guard let n = v as? NSNumber, String(describing: type(of: v)) != "__NSCFBoolean",
                      Double(n.intValue) == n.doubleValue else {
                    throw MechanicError.invalidArgument("\(place): \"tokens\" must hold integer token ids; found \(v)")
                }
                ids.append(n.intValue)
            }
            return emit(tokens: ids)
        }
        throw MechanicError.invalidArgument("\(place): the object has no \"text\" string or \"tokens\" list (keys: \(dict.keys.sorted().joined(separator: ", ")))")
    }
}

/// Buffered line reader over a file (UTF-8; `\n` or `\r\n` line ends), reading 1 MB at a time.
final class LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0  // first unread byte of `buffer`
    private var atEOF = false
    /// Bytes of the lines handed out so far (line ends included).
    private(set) var bytesConsumed = 0
    let totalBytes: Int

    init(url: URL) throws {
        // A directory, FIFO or device (e.g. /dev/zero, which never ends) is refused before opening.
        if FileIdentity.inspect(url.path).kind != .missing {
            try InputFile.check(url.path, what: "a corpus file (text, one document per line, or .jsonl)")
        }
        InputFiles.record(url.path)
        guard let h = try? FileHandle(forReadingFrom: url) else {
            throw MechanicError.fileMissing(path: url.path, what: "a corpus file (text, one document per line, or .jsonl)")
        }
        handle = h
        totalBytes = ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    deinit { try? handle.close() }

    func next() -> String? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                var end = nl
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                bytesConsumed += nl + 1 - start
                start = nl + 1
                return line
            }
            if atEOF {
                guard start < buffer.count else { return nil }
                bytesConsumed += buffer.count - start
                defer { start = buffer.count }
                return String(decoding: buffer[start...], as: UTF8.self)
            }
            buffer.removeSubrange(0..<start)
            start = 0
            let chunk = (try? handle.read(upToCount: 1 << 20)) ?? nil
            if let chunk, !chunk.isEmpty {
                buffer.append(contentsOf: chunk)
            } else {
                atEOF = true
            }
        }
    }
}
