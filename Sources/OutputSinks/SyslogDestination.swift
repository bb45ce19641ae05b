// Where syslog messages go, as the user writes it on the command line: `unix:/dev/log`, `udp://[::1]:514`,
// `tcp://collector.example:514`. Parsing only: names are resolved when a sink is made.

public enum SyslogDestination: Sendable, Hashable, CustomStringConvertible {
    /// A local socket: datagram (rsyslog's and journald's `/dev/log`), or stream when the socket is SOCK_STREAM.
    case unix(path: String)
    /// RFC 5426: one message per datagram.
    case udp(host: String, port: UInt16)
    /// RFC 6587 octet counting: `LEN SP MSG`.
    case tcp(host: String, port: UInt16)

    public static let defaultSocketPath = "/dev/log"
    /// RFC 5426 assigns 514/udp; TCP has no assigned port, and 514/tcp is what rsyslog and syslog-ng use.
    public static let defaultPort: UInt16 = 514
    /// `sun_path` holds 108 bytes including the terminating NUL.
    static let maximumSocketPathLength = 107

    /// `unix:PATH` (`unix:` alone is `/dev/log`), `udp://HOST[:PORT]`, `tcp://HOST[:PORT]`; HOST is a name, an
    /// IPv4 literal or an IPv6 literal in brackets; PORT defaults to 514.
    public static func parse(_ text: String) throws(SyslogError) -> SyslogDestination {
        func fail(_ problem: SyslogDestinationProblem) -> SyslogError { .invalidDestination(text, problem) }
        let lowered = text.lowercased()
        if lowered.hasPrefix("unix:") {
            var path = String(text.dropFirst("unix:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            if path.isEmpty { path = defaultSocketPath }
            guard path.utf8.count <= maximumSocketPathLength else {
                throw fail(.socketPathTooLong(bytes: path.utf8.count, maximum: maximumSocketPathLength))
            }
            guard !path.utf8.contains(0) else { throw fail(.socketPathHasNUL) }
            return .unix(path: path)
        }
        let isUDP = lowered.hasPrefix("udp://")
        guard isUDP || lowered.hasPrefix("tcp://") else { throw fail(.unknownScheme) }
        let authority = Substring(text.dropFirst("udp://".count))
        let host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail(.unterminatedBracket) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw fail(.invalidPort(String(rest))) }
                portText = rest.dropFirst()
            }
        } else {
            let colons = authority.filter { $0 == ":" }.count
            if colons > 1 { throw fail(.ipv6WithoutBrackets) }
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
        }
        guard !host.isEmpty else { throw fail(.missingHost) }
        guard !host.contains(where: { $0 == "/" || $0 == "@" || $0 == " " }) else {
            throw fail(.invalidHost(String(host)))
        }
        var port = defaultPort
        if let portText {
            guard let value = UInt16(portText), value > 0, portText.allSatisfy(\.isASCII) else {
                throw fail(.invalidPort(String(portText)))
            }
            port = value
        }
        return isUDP ? .udp(host: String(host), port: port) : .tcp(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:" + path
        case .udp(let host, let port): "udp://" + SyslogDestination.bracketed(host) + ":" + String(port)
        case .tcp(let host, let port): "tcp://" + SyslogDestination.bracketed(host) + ":" + String(port)
        }
    }

    /// RFC 3164 for `unix:`, RFC 5424 for the network. The readers behind `/dev/log` (rsyslog's imuxsock with its
    /// default special parser, systemd-journald) parse the local BSD form only and keep an RFC 5424 header as
    /// message text; a collector configured for RFC 5424 on its socket (rsyslog: `useSpecialParser="off"
    /// parseHostname="on" ignoreTimestamp="off"`) can be given `.rfc5424` explicitly.
    public var preferredFormat: SyslogMessageFormat {
        if case .unix = self { return .rfc3164 }
        return .rfc5424
    }

    static func bracketed(_ host: String) -> String {
        host.contains(":") ? "[" + host + "]" : host
    }
}

/// What is wrong with a destination the user wrote.
public enum SyslogDestinationProblem: Sendable, Hashable, CustomStringConvertible {
    case unknownScheme
    case missingHost
    case invalidHost(String)
    case invalidPort(String)
    case ipv6WithoutBrackets
    case unterminatedBracket
    case socketPathTooLong(bytes: Int, maximum: Int)
    case socketPathHasNUL

    public var description: String {
        switch self {
        case .unknownScheme: "expected unix:PATH, udp://HOST:PORT or tcp://HOST:PORT"
        case .missingHost: "no host"
        case .invalidHost(let host): "'\(host)' is not a host name or address"
        case .invalidPort(let port): "'\(port)' is not a port (1-65535)"
        case .ipv6WithoutBrackets: "write an IPv6 address in brackets: udp://[2001:db8::1]:514"
        case .unterminatedBracket: "'[' without ']'"
        case .socketPathTooLong(let bytes, let maximum):
            "the socket path is \(bytes) bytes long; a unix socket path holds at most \(maximum)"
        case .socketPathHasNUL: "the socket path holds a NUL byte"
        }
    }
}

/// Why a syslog sink could not be configured.
public enum SyslogError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidDestination(String, SyslogDestinationProblem)
    case unknownFacility(String)
    case unknownFormat(String)
    case invalidAppName(String)
    case invalidQueueCapacity(Int)
    /// getaddrinfo failed; `reason` is its own text (`gai_strerror`).
    case unresolvableHost(String, reason: String)

    public var description: String {
        switch self {
        case .invalidDestination(let text, let problem): "syslog destination '\(text)': \(problem)"
        case .unknownFacility(let name):
            "unknown syslog facility '\(name)' (use one of "
                + SyslogFacility.allCases.map(\.description).joined(separator: ", ") + ", security)"
        case .unknownFormat(let name):
            "unknown syslog format '\(name)' (use rfc5424 or rfc3164)"
        case .invalidAppName(let name):
            "syslog app name '\(name)' must be 1 to 48 printable ASCII characters without space, '[' or ':'"
        case .invalidQueueCapacity(let capacity): "syslog queue capacity \(capacity) must be at least 1"
        case .unresolvableHost(let host, let reason): "syslog host '\(host)': \(reason)"
        }
    }
}

extension SyslogMessageFormat {
    /// `rfc5424` (also `5424`), `rfc3164` (also `3164`, `bsd`).
    public static func parse(_ name: String) throws(SyslogError) -> SyslogMessageFormat {
        switch name.lowercased() {
        case "rfc5424", "5424": .rfc5424
        case "rfc3164", "3164", "bsd": .rfc3164
        default: throw .unknownFormat(name)
        }
    }
}
