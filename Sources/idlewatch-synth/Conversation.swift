// One conversation at a time, one frame per step: TCP with a handshake, request/response rounds, delayed ACKs and a
// teardown (or a reset, no answer, or no end within the capture); DNS and NTP exchanges; pings; one-way syslog; ARP;
// and a port scan. Each step writes its frame and says how long until the conversation's next frame.

struct Conversation {
    enum Kind: UInt8 { case tcp, dns, ntp, ping, syslog, arp, scan }
    enum Phase: UInt8 { case syn, synAck, handshakeAck, request, response, clientAck, fin, finAck, lastAck, reset }
    enum Ending: UInt8 { case fin, reset, unanswered, open }

    var kind: Kind
    var client: Endpoint
    var server: Endpoint
    var v6: Bool
    var clientPort: UInt16
    var serverPort: UInt16
    var phase = Phase.syn
    var ending = Ending.fin
    /// Request/response rounds still to come (TCP), exchanges (ping, syslog), targets (scan).
    var rounds = 1
    var segmentsLeft = 0
    var segmentsSinceAck = 0
    var clientSequence: UInt32 = 0
    var serverSequence: UInt32 = 0
    /// Round-trip time, gap between back-to-back segments, mean pause between rounds (seconds).
    var rtt = 0.001
    var burstGap = 0.00005
    var thinkTime = 1.0
    var meanSegments = 4.0
    var requestSize = 300
    /// Scan: index of the first client probed.
    var firstTarget = 0
    var step = 0

    init(kind: Kind, client: Endpoint, server: Endpoint, v6: Bool, clientPort: UInt16, serverPort: UInt16) {
        self.kind = kind
        self.client = client
        self.server = server
        self.v6 = v6 && client.ipv6 != nil && server.ipv6 != nil
        self.clientPort = clientPort
        self.serverPort = serverPort
    }

    /// Writes the frame due at `time`; returns the gap to the next one, or nil when the conversation is over.
    mutating func emit(at time: Double, to out: CaptureOutput, _ g: inout SeededGenerator, network: Network) -> Double? {
        step += 1
        switch kind {
        case .tcp: return tcp(at: time, to: out, &g)
        case .dns:
            let query = step == 1
            out.frame(at: time, from: query ? client : server, to: query ? server : client, v6: v6, transport: .udp,
                      sourcePort: query ? clientPort : serverPort, destinationPort: query ? serverPort : clientPort,
                      payload: query ? 28 + g.below(30) : 60 + g.below(240)) { p in
                // Transaction id, flags (query, or response with recursion available), one question.
                p.storeBytes(of: UInt16(truncatingIfNeeded: self.clientPort &* 31).bigEndian, as: UInt16.self)
                p.storeBytes(of: (query ? UInt16(0x0100) : 0x8180).bigEndian, toByteOffset: 2, as: UInt16.self)
                p.storeBytes(of: UInt16(1).bigEndian, toByteOffset: 4, as: UInt16.self)
            }
            return query ? rtt : nil
        case .ntp:
            let request = step == 1
            out.frame(at: time, from: request ? client : server, to: request ? server : client, v6: v6, transport: .udp,
                      sourcePort: request ? clientPort : serverPort, destinationPort: request ? serverPort : clientPort,
                      payload: 48) { p in p.storeBytes(of: UInt8(request ? 0x23 : 0x24), as: UInt8.self) }
            return request ? rtt : nil
        case .ping:
            let request = step % 2 == 1
            out.frame(at: time, from: request ? client : server, to: request ? server : client, v6: v6, transport: .icmp,
                      sourcePort: request ? 0 : 1, destinationPort: clientPort, sequence: UInt32((step + 1) / 2),
                      payload: 56)
            if request { return rtt }
            rounds -= 1
            return rounds > 0 ? 1.0 : nil
        case .syslog:
            out.frame(at: time, from: client, to: server, v6: false, transport: .udp, sourcePort: clientPort,
                      destinationPort: 514, payload: 80 + g.below(400))
            rounds -= 1
            return rounds > 0 ? g.exponential(mean: 2) : nil
        case .arp:
            if step == 1 {
                out.arp(at: time, from: client, asking: server.ipv4)
                return 0.0002
            }
            out.arp(at: time, from: server, asking: client.ipv4, targetMAC: client.mac, reply: true)
            return nil
        case .scan:
            // Odd steps probe the next target; even steps are the target's reset when its port is closed (most are;
            // some hosts drop the probe silently).
            let target = network.clients[(firstTarget + (step - 1) / 2) % network.clients.count]
            if step % 2 == 1 {
                out.frame(at: time, from: client, to: target, v6: false, transport: .tcp, sourcePort: clientPort,
                          destinationPort: serverPort, flags: TCPFlag.syn,
                          sequence: UInt32(truncatingIfNeeded: step &* 7919), payload: 0)
                return g.chance(0.7) ? 0.0003 : 0.002
            }
            if (step / 2) % 10 < 7 {
                out.frame(at: time, from: target, to: client, v6: false, transport: .tcp,
                          sourcePort: serverPort, destinationPort: clientPort,
                          flags: TCPFlag.rst | TCPFlag.ack, acknowledgement: UInt32(truncatingIfNeeded: step &* 7919) &+ 1,
                          payload: 0)
            }
            return rounds > step / 2 ? 0.002 : nil
        }
    }

    private mutating func tcp(at time: Double, to out: CaptureOutput, _ g: inout SeededGenerator) -> Double? {
        func send(_ fromClient: Bool, _ flags: UInt8, _ payload: Int) {
            out.frame(at: time, from: fromClient ? client : server, to: fromClient ? server : client, v6: v6,
                      transport: .tcp, sourcePort: fromClient ? clientPort : serverPort,
                      destinationPort: fromClient ? serverPort : clientPort, flags: flags,
                      sequence: fromClient ? clientSequence : serverSequence,
                      acknowledgement: flags & TCPFlag.ack != 0 ? (fromClient ? serverSequence : clientSequence) : 0,
                      payload: payload)
            let advance = UInt32(payload) + (flags & (TCPFlag.syn | TCPFlag.fin) != 0 ? 1 : 0)
            if fromClient { clientSequence &+= advance } else { serverSequence &+= advance }
        }
        switch phase {
        case .syn:
            if ending == .unanswered {
                // The first SYN and two retransmissions, 1 s then 2 s apart, never answered.
                send(true, TCPFlag.syn, 0)
                clientSequence &-= 1
                return step < 3 ? Double(step) : nil
            }
            send(true, TCPFlag.syn, 0)
            phase = .synAck
            return rtt / 2
        case .synAck:
            send(false, TCPFlag.syn | TCPFlag.ack, 0)
            phase = .handshakeAck
            return rtt / 2
        case .handshakeAck:
            send(true, TCPFlag.ack, 0)
            phase = .request
            return 0.0001
        case .request:
            send(true, TCPFlag.psh | TCPFlag.ack, requestSize)
            segmentsLeft = g.chance(0.01) ? 50 + g.below(450) : g.count(mean: meanSegments)
            segmentsSinceAck = 0
            phase = .response
            return rtt / 2 + g.exponential(mean: 0.002)
        case .response:
            segmentsLeft -= 1
            segmentsSinceAck += 1
            // Full segments, the last one partial; an IMIX-like mix over the whole capture.
            let size = segmentsLeft == 0 ? 1 + g.below(1448) : 1448
            send(false, segmentsLeft == 0 ? TCPFlag.psh | TCPFlag.ack : TCPFlag.ack, size)
            if segmentsSinceAck == 2 || segmentsLeft == 0 {
                phase = .clientAck
                return rtt / 2
            }
            return g.exponential(mean: burstGap)
        case .clientAck:
            send(true, TCPFlag.ack, 0)
            segmentsSinceAck = 0
            if segmentsLeft > 0 {
                phase = .response
                return rtt / 2
            }
            rounds -= 1
            if rounds > 0 {
                phase = .request
                requestSize = g.chance(0.7) ? 40 + g.below(200) : 300 + g.below(900)
                return g.exponential(mean: thinkTime)
            }
            switch ending {
            case .open: return nil
            case .reset: phase = .reset
            default: phase = .fin
            }
            return g.exponential(mean: 0.05)
        case .fin:
            send(true, TCPFlag.fin | TCPFlag.ack, 0)
            phase = .finAck
            return rtt / 2
        case .finAck:
            send(false, TCPFlag.fin | TCPFlag.ack, 0)
            phase = .lastAck
            return rtt / 2
        case .lastAck:
            send(true, TCPFlag.ack, 0)
            return nil
        case .reset:
            send(true, TCPFlag.rst | TCPFlag.ack, 0)
            return nil
        }
    }
}
