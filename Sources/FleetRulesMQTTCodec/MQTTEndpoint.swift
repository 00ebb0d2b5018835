import Foundation

/// Where a broker is: `mqtt://[user[:password]@]host[:port]` (port 1883) or `mqtts://…` (TLS,
/// port 8883). User and password are percent-decoded.
public struct MQTTEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool
    public var username: String?
    public var password: String?

    public init(host: String, port: Int, tls: Bool = false, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
    }

    public struct URLError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(url text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw URLError(description: "'\(text)' is not a URL such as mqtt://127.0.0.1:1883")
        }
        guard scheme == "mqtt" || scheme == "mqtts" else {
            throw URLError(description: "'\(text)': the scheme must be mqtt:// or mqtts://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw URLError(description: "'\(text)' names no host")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw URLError(description: "'\(text)': the port must be 1...65535")
        }
        if !components.path.isEmpty && components.path != "/" {
            throw URLError(description: "'\(text)': a broker URL has no path (topics are given separately)")
        }
        tls = scheme == "mqtts"
        self.host = host
        port = components.port ?? (tls ? 8883 : 1883)
        username = components.user?.removingPercentEncoding ?? components.user
        password = components.password?.removingPercentEncoding ?? components.password
    }

    /// The URL without its password, for logs.
    public var description: String {
        "\(tls ? "mqtts" : "mqtt")://\(username.map { "\($0)@" } ?? "")\(host):\(port)"
    }
}
