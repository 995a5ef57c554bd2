import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP reply: the status, the headers (names lower-cased), and the body when it was kept in
/// memory (API replies, error pages; never a downloaded file).
struct HTTPReply: Sendable {
    let url: URL
    let status: Int
    let headers: [String: String]
    let body: Data

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A transport failure: no HTTP reply at all, or one cut short.
struct TransportError: Error {
    let url: URL
    let reason: String
}

/// Blocking HTTP over `URLSession`: small replies into memory, large ones streamed to a file.
/// Each call runs its own session and waits for it on a semaphore, so callers stay synchronous.
struct HTTPClient: Sendable {
    /// Seconds without any data before a request fails.
    var idleTimeout: TimeInterval = 30

    /// Sends `request` and keeps the body in memory. With `followRedirects: false`, a 3xx reply
    /// is returned as is (the hub puts `X-Linked-Etag` on the redirect, not on the CDN's reply).
    func send(_ request: URLRequest, followRedirects: Bool = true) throws -> HTTPReply {
        let delegate = TransferDelegate(followRedirects: followRedirects, sink: nil, onBytes: nil)
        return try run(request, delegate)
    }

    /// GETs `request` into `file`: appends when the server answers 206 to a `Range: bytes=N-`
    /// request (`offset` = N, the bytes already there), starts over on 200. A non-2xx reply
    /// writes nothing and is returned with its body. `onBytes` gets the file's size as it grows.
    func download(_ request: URLRequest, to file: URL, offset: Int64, onBytes: @escaping (Int64) -> Void) throws -> HTTPReply {
        let sink = FileSink(url: file, offset: offset)
        defer { sink.close() }
        let delegate = TransferDelegate(followRedirects: true, sink: sink, onBytes: onBytes)
        return try run(request, delegate)
    }

    private func run(_ request: URLRequest, _ delegate: TransferDelegate) throws -> HTTPReply {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        let task = session.dataTask(with: request)
        task.resume()
        delegate.finished.wait()
        session.finishTasksAndInvalidate()
        let url = request.url ?? URL(fileURLWithPath: "/")
        if let failure = delegate.failure {
            if let error = failure as? TransportError { throw error }
            if let error = failure as? ModelResolveError { throw error }
            throw TransportError(url: url, reason: failure.localizedDescription)
        }
        guard let response = delegate.response else {
            throw TransportError(url: url, reason: "no HTTP response")
        }
        var headers: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            if let k = key as? String, let v = value as? String { headers[k.lowercased()] = v }
        }
        return HTTPReply(url: response.url ?? url, status: response.statusCode, headers: headers, body: delegate.body)
    }
}

/// Appends a 2xx body to a file (see `HTTPClient.download`).
final class FileSink: @unchecked Sendable {
    let url: URL
    let offset: Int64
    private var handle: FileHandle?
    private(set) var size: Int64 = 0

    init(url: URL, offset: Int64) {
        self.url = url
        self.offset = offset
    }

    /// Opens the file for the reply with this status and `Content-Range`.
    func begin(status: Int, contentRange: String?) throws {
        let fm = FileManager.default
        if status == 206 {
            // "bytes START-END/TOTAL": START must be where the file ends.
            let start = contentRange.flatMap { range -> Int64? in
                guard let spec = range.split(separator: " ").last, let dash = spec.firstIndex(of: "-") else { return nil }
                return Int64(spec[..<dash])
            }
            guard start == offset else {
                throw TransportError(url: url, reason: "asked to resume at byte \(offset) but the server sent range \(contentRange ?? "(none)")")
            }
            handle = FileHandle(forWritingAtPath: url.path)
            size = Int64(try handle?.seekToEnd() ?? 0)
            guard size == offset else {
                throw TransportError(url: url, reason: "\(url.path) changed size while resuming")
            }
        } else {
            // A full body: start the file over.
            guard fm.createFile(atPath: url.path, contents: nil) else {
                throw ModelResolveError.cache(path: url.path, reason: "cannot create the file")
            }
            handle = FileHandle(forWritingAtPath: url.path)
            size = 0
        }
        guard handle != nil else { throw ModelResolveError.cache(path: url.path, reason: "cannot open the file for writing") }
    }

    func write(_ data: Data) throws {
        guard let handle else { return }
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw ModelResolveError.cache(path: url.path, reason: "writing failed: \(OutputFile.reason(error))")
        }
        size += Int64(data.count)
    }

    func close() {
        try? handle?.close()
        handle = nil
    }
}

/// Collects one task's reply. URLSession calls it on its own serial queue; the caller reads the
/// fields only after `finished` is signalled.
final class TransferDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let followRedirects: Bool
    let sink: FileSink?
    let onBytes: ((Int64) -> Void)?
    let finished = DispatchSemaphore(value: 0)
    var response: HTTPURLResponse?
    var body = Data()
    var failure: Error?
    private var writing = false
    /// Error pages and API replies are small; refuse to buffer more than this.
    private let bodyLimit = 256 << 20

    init(followRedirects: Bool, sink: FileSink?, onBytes: ((Int64) -> Void)?) {
        self.followRedirects = followRedirects
        self.sink = sink
        self.onBytes = onBytes
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let http = response as? HTTPURLResponse
        self.response = http
        if let sink, let http, (200..<300).contains(http.statusCode) {
            do {
                try sink.begin(status: http.statusCode, contentRange: http.value(forHTTPHeaderField: "Content-Range"))
                writing = true
            } catch {
                failure = error
                completionHandler(.cancel)
                return
            }
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        if writing, let sink {
            do {
                try sink.write(data)
                onBytes?(sink.size)
            } catch {
                failure = error
                dataTask.cancel()
            }
        } else if body.count + data.count <= bodyLimit {
            body.append(data)
        } else {
            failure = TransportError(url: dataTask.originalRequest?.url ?? URL(fileURLWithPath: "/"), reason: "reply larger than \(bodyLimit) bytes")
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(followRedirects ? request : nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if failure == nil, let error {
            failure = TransportError(url: task.originalRequest?.url ?? URL(fileURLWithPath: "/"), reason: error.localizedDescription)
        }
        finished.signal()
    }
}
