// TCP endpoint states and Zeek's conn_state summary of a connection.
//
// The endpoint state machine follows Zeek's TCP analyzer (TCPSessionAdapter.cc, TCP_Endpoint.h) and the summary
// follows `conn_state` in Zeek's base/protocols/conn/main.zeek, so analysts read the same codes they know:
// S0 attempt with no reply, REJ rejected, S1 established, SF normal close, RSTO/RSTR aborted, SH/SHR half-open,
// S2/S3 close attempt by one side, RSTOS0/RSTRH resets without handshake, OTH anything else.

import PacketDecoding

/// One side of a TCP connection, as Zeek tracks it. UDP and other protocols use `inactive`/`active` only.
public enum EndpointState: UInt8, Sendable {
    /// Nothing seen from this side (UDP: nothing sent).
    case inactive
    /// Sent a SYN, no handshake completed yet.
    case synSent
    /// Sent a SYN-ACK without having seen the SYN (an originator that answers first).
    case synAckSent
    /// Data seen without a SYN: the capture started mid-connection.
    case partial
    case established
    /// Sent a FIN.
    case closed
    /// Sent a RST.
    case reset
    /// UDP, ICMP, other protocols: this side sent something.
    case active
}

/// Zeek's `conn_state` codes.
public enum ConnectionState: String, CaseIterable, Sendable {
    case s0 = "S0", s1 = "S1", sf = "SF", rej = "REJ", s2 = "S2", s3 = "S3", rsto = "RSTO", rstr = "RSTR"
    case rstos0 = "RSTOS0", rstrh = "RSTRH", sh = "SH", shr = "SHR", oth = "OTH"
}

/// The first occurrence of each kind of TCP segment from one side (Zeek's history letters, without their order).
public struct TCPHistory: OptionSet, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let syn = TCPHistory(rawValue: 1 << 0)  // S / s
    public static let synAck = TCPHistory(rawValue: 1 << 1)  // H / h
    public static let ack = TCPHistory(rawValue: 1 << 2)  // A / a: a pure ACK
    public static let data = TCPHistory(rawValue: 1 << 3)  // D / d
    public static let fin = TCPHistory(rawValue: 1 << 4)  // F / f
    public static let rst = TCPHistory(rawValue: 1 << 5)  // R / r
}

extension ConnectionState {
    /// Zeek's `conn_state` for a connection whose sides ended in `orig` and `resp`.
    /// `origPayload`/`respPayload` are the payload bytes each side sent (Zeek's `size`).
    public static func summarize(
        ipProtocol: UInt8, orig: EndpointState, resp: EndpointState, origHistory: TCPHistory,
        origPayload: UInt64, respPayload: UInt64
    ) -> ConnectionState {
        switch ipProtocol {
        case 6:
            let origInactive = orig == .inactive || orig == .partial
            let respInactive = resp == .inactive || resp == .partial
            if resp == .reset {
                if orig == .synSent || orig == .synAckSent || (orig == .reset && origPayload == 0 && respPayload == 0) {
                    return .rej
                }
                return origInactive ? .rstrh : .rstr
            }
            if orig == .reset {
                if respInactive {
                    // Zeek: history matches ^?S[^HAFGIQ]*R: a SYN, then a RST, with no SYN-ACK, ACK or FIN between.
                    let sawSYNThenRST = origHistory.contains(.syn) && origHistory.contains(.rst)
                        && origHistory.isDisjoint(with: [.synAck, .ack, .fin])
                    return sawSYNThenRST ? .rstos0 : .oth
                }
                return .rsto
            }
            if resp == .closed && orig == .closed { return .sf }
            if orig == .closed { return respInactive ? .sh : .s2 }
            if resp == .closed { return origInactive ? .shr : .s3 }
            if orig == .synSent && resp == .inactive { return .s0 }
            if orig == .established && resp == .established { return .s1 }
            return .oth
        case 17:
            if orig == .active { return resp == .active ? .sf : .s0 }
            return resp == .active ? .shr : .oth
        default:
            return .oth
        }
    }
}

/// Applies one TCP segment from `sender` (whose peer is `peer`) to both endpoint states, as Zeek's analyzer does.
@inlinable
func updateTCPState(
    sender: inout EndpointState, peer: inout EndpointState, senderIsOriginator: Bool,
    flags: TCPFlags, payloadLength: Int32
) {
    let syn = flags.contains(.syn), ack = flags.contains(.ack)
    let fin = flags.contains(.fin), rst = flags.contains(.rst)
    switch sender {
    case .inactive:
        if syn {
            if ack {
                if senderIsOriginator {
                    sender = .synAckSent
                } else {
                    if peer == .synSent { peer = .established }
                    sender = .established
                }
            } else {
                sender = .synSent
            }
            if rst { sender = .reset }
        } else if rst {
            sender = .reset
        } else if fin {
            sender = .closed
        } else if peer == .established {
            sender = .established  // the SYN was missed but the other side is established
        } else if !senderIsOriginator && peer == .synSent && payloadLength == 0 {
            // a bare ACK answering a SYN is not an answer; stay inactive (Zeek does the same)
        } else {
            sender = .partial
        }
    case .synSent, .synAckSent:
        if rst {
            sender = .reset
        } else if fin {
            sender = .closed
        } else if syn && ack && !senderIsOriginator && peer == .synSent {
            // a responder whose SYN came first (simultaneous open) now acknowledges
            sender = .established
            peer = .established
        }
    case .established, .partial:
        if rst {
            sender = .reset
        } else if fin {
            sender = .closed
        } else if syn && !ack && sender == .partial && peer == .inactive {
            sender = .synSent
        }
    case .closed:
        if rst && peer != .closed { sender = .reset }
    case .reset, .active:
        break
    }
}
