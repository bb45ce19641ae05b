// Errors from libpcap, typed, with libpcap's own text (never swallowed into nil).

/// A libpcap failure: which capture source, which operation, and libpcap's message.
public struct PcapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file path or interface name the error concerns.
    public var source: String
    /// libpcap's text (`pcap_geterr`, the error buffer, or `pcap_statustostr`), or IdleWatch's for its own checks.
    public var message: String
    /// Byte offset in the file where reading stopped, when known.
    public var offset: Int64?
    /// Packets read from this source before the error.
    public var packetsRead: Int

    public init(source: String, message: String, offset: Int64? = nil, packetsRead: Int = 0) {
        self.source = source
        self.message = message
        self.offset = offset
        self.packetsRead = packetsRead
    }

    /// One line: `FILE: MESSAGE (after N packets, at byte offset M)`.
    public var description: String {
        var text = "\(source): \(message)"
        if offset != nil || packetsRead > 0 {
            var details: [String] = []
            if packetsRead > 0 { details.append("after \(packetsRead) packets") }
            if let offset { details.append("at byte offset \(offset)") }
            text += " (" + details.joined(separator: ", ") + ")"
        }
        return text
    }
}
