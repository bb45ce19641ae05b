// One packet as libpcap hands it over: borrowed bytes plus the record header.
//
// Lifetime contract (libpcap's own rule): `bytes` points into libpcap's buffer and is valid only until the next
// read on the same source. Decode it, copy what must be kept into values, and let it go.

import PacketDecoding

public struct CapturedPacket {
    public var timestamp: Timestamp
    /// Bytes captured (`caplen`); `bytes.count == capturedLength`.
    public var capturedLength: Int
    /// Length on the wire (`len`); larger than `capturedLength` when the snapshot length cut the packet.
    public var wireLength: Int
    public var linkType: LinkType
    public var bytes: UnsafeRawBufferPointer

    @inlinable
    public init(timestamp: Timestamp, capturedLength: Int, wireLength: Int, linkType: LinkType,
                bytes: UnsafeRawBufferPointer) {
        self.timestamp = timestamp
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        self.linkType = linkType
        self.bytes = bytes
    }
}

/// What a read from a capture source produced.
public enum ReadResult {
    case packet(CapturedPacket)
    /// Live capture only: the read timeout passed with no packet (a chance to check signals and timers).
    case timeout
    /// Offline only: the end of the file.
    case end
}
