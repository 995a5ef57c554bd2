import Foundation
import Testing
import ReportTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A `mechanic serve` process on a free loopback port (`--port 0`), stopped when released.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    var pid: Int32 { process.processIdentifier }

    /// stderr when `captureErrors` (read it only after the process ended).
    let errors = Pipe()

    init(_ args: [String], captureErrors: Bool = false) throws {
        process.executableURL = CLI.binary
        process.environment = CLI.environment
        process.arguments = ["serve", "--port", "0"] + args
        let out = Pipe()
        process.standardOutput = out
        process.standardError = captureErrors ? errors : FileHandle.nullDevice
        try process.run()
        // The first stdout line: "listening on http://127.0.0.1:PORT/".
        var line = Data()
        let handle = out.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        let host = args.firstIndex(of: "--host").map { args[$0 + 1] } ?? "127.0.0.1"
        guard text.hasPrefix("listening on http://\(host):"),
              let port = Int(text.dropFirst("listening on http://\(host):".count).prefix { $0.isNumber }), port > 0 else {
            process.terminate()
            throw ServeTestError.noPort(text)
        }
        self.port = port
    }

    deinit { stop() }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func post(_ path: String, _ body: String) throws -> HTTPReply { try HTTPClient.request("POST", port: port, path: path, body: Data(body.utf8)) }
    func post(_ path: String, data: Data) throws -> HTTPReply { try HTTPClient.request("POST", port: port, path: path, body: data) }
    func get(_ path: String) throws -> HTTPReply { try HTTPClient.request("GET", port: port, path: path, body: nil) }

    /// Resident set size now (`VmRSS`), in KiB.
    var rssKiB: Int { Self.status(pid, "VmRSS") }

    static func status(_ pid: Int32, _ key: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "0") ?? 0
        }
        return 0
    }
}

enum ServeTestError: Error { case noPort(String), socket(String) }

struct HTTPReply {
    var status: Int
    var headers: [String: String]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
}

/// HTTP/1.1 over a plain loopback socket (no proxy settings apply): one request per connection.
enum HTTPClient {
    /// A TCP socket connected to 127.0.0.1:`port` (the caller closes it).
    static func connectLoopback(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServeTestError.socket("socket() failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw ServeTestError.socket("connect to port \(port) failed") }
        return fd
    }

    static func request(_ method: String, port: Int, path: String, body: Data?) throws -> HTTPReply {
        let fd = try connectLoopback(port: port)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        let request = Data((head + "\r\n").utf8) + (body ?? Data())
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if n <= 0 { break }  // the server may answer (413) and close before reading everything
                sent += n
            }
        }
        var reply = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            reply.append(contentsOf: buffer[0..<n])
        }
        guard let split = reply.range(of: Data("\r\n\r\n".utf8)) else { throw ServeTestError.socket("no HTTP reply (\(reply.count) bytes)") }
        let lines = String(decoding: reply[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPReply(status: status, headers: headers, body: Data(reply[split.upperBound...]))
    }
}

/// Headless Chromium on a URL: the DOM after the page's script ran, or a screenshot.
enum Browser {
    static func run(_ args: [String]) throws -> String {
        guard let exe = Chromium.executable else { return "" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    static func dom(_ url: String) throws -> String { try run(["--dump-dom", url]) }

    /// A PNG of the page at `width × height`; also copied to `$MECHANIC_SCREENSHOTS/name.png` when set.
    static func screenshot(_ url: String, name: String, width: Int = 1100, height: Int = 1300) throws -> Data {
        let png = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-serve-\(name)-\(getpid()).png")
        try? FileManager.default.removeItem(at: png)
        _ = try run(["--screenshot=\(png.path)", "--window-size=\(width),\(height)", url])
        let data = try Data(contentsOf: png)
        try? FileManager.default.removeItem(at: png)
        if let dir = ProcessInfo.processInfo.environment["MECHANIC_SCREENSHOTS"] {
            try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent("\(name).png"))
        }
        return data
    }

    /// Every `attr="value"` in `html`, in order.
    static func attributes(_ attr: String, in html: String) -> [String] {
        html.components(separatedBy: "\(attr)=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    /// The text of every element whose opening tag contains `marker` (`class="loss"`), in order.
    static func texts(_ marker: String, in html: String) -> [String] {
        html.components(separatedBy: marker).dropFirst().map { part in
            let afterTag = part.drop { $0 != ">" }.dropFirst()
            return String(afterTag.prefix { $0 != "<" })
        }
    }
}


/// One server-sent event as it arrived.
struct ServerEvent {
    var name: String
    var data: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
}

extension HTTPClient {
    /// `GET path` read as a stream of server-sent events over a plain loopback socket: the
    /// chunked body is decoded as it arrives and `onEvent` sees each event at once (before the
    /// stream has ended). Returns the status line's code, the headers and every event.
    static func events(port: Int, path: String, onEvent: (ServerEvent) throws -> Void = { _ in }) throws -> (Int, [String: String], [ServerEvent]) {
        let fd = try connectLoopback(port: port)
        defer { close(fd) }
        let request = Data("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var raw = Data(), body = Data(), text = ""
        var head: (Int, [String: String])?
        var chunked = false, ended = false, events: [ServerEvent] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            raw.append(contentsOf: buffer[0..<n])
            if head == nil {
                guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else { continue }
                let lines = String(decoding: raw[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                var headers: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                head = (Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0, headers)
                chunked = headers["transfer-encoding"]?.lowercased().contains("chunked") == true
                raw = Data(raw[split.upperBound...])
            }
            // Decode what has arrived: whole chunks (size line, data, CRLF), or the raw bytes.
            if chunked {
                while let line = raw.range(of: Data("\r\n".utf8)) {
                    let size = Int(String(decoding: raw[..<line.lowerBound], as: UTF8.self).split(separator: ";").first ?? "", radix: 16) ?? 0
                    if size == 0 { raw = Data(); ended = true; break }
                    guard raw.count >= raw.distance(from: raw.startIndex, to: line.upperBound) + size + 2 else { break }
                    let start = line.upperBound
                    body.append(raw[start..<raw.index(start, offsetBy: size)])
                    raw = Data(raw[raw.index(start, offsetBy: size + 2)...])
                }
            } else {
                body.append(raw)
                raw = Data()
            }
            text += String(decoding: body, as: UTF8.self)
            body = Data()
            while let end = text.range(of: "\n\n") {
                var event = ServerEvent(name: "message", data: "")
                for line in text[..<end.lowerBound].split(separator: "\n") {
                    if line.hasPrefix("event: ") { event.name = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { event.data += String(line.dropFirst(6)) }
                }
                text = String(text[end.upperBound...])
                events.append(event)
                try onEvent(event)
            }
            if ended { break }  // the last chunk: the events it ended with are read above
        }
        guard let head else { throw ServeTestError.socket("no HTTP reply") }
        return (head.0, head.1, events)
    }
}
