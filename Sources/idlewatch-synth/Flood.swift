// Floods for the hostile-input tests and benchmarks, each with one real session hidden in the middle: an outside
// host's remote-desktop session (handshake, data both ways, FIN) to a workstation's undeclared port 3389, which
// `maintenance-port-inbound` must still report however much the flood pushes out of the sensor's tables.
//
// - syn: SYNs to the DMZ's web servers from a new spoofed outside source each (1 in 8 IPv6), source ports walking
//   through every port; the servers answer a quarter with a SYN-ACK that nobody acknowledges (half-open).
// - fragments: tiny fragments (8 bytes of data) of datagrams that never complete: many identifications, spoofed
//   sources, overlapping offsets, first fragments for only some, holes before a final fragment; IPv4 and IPv6.
// - hosts: frames from a new address each: UDP and ICMP echo from outside (a third of the pings answered), and
//   ARP requests from a new local address each (a forged sender on the local segment).
//
// Frames are evenly spaced over `seconds` (1M in a minute by default: a link's worth of small packets), so the
// same seed, count and kind give the same bytes. Spoofed addresses come from bijections of a counter: never
// repeated within a run, so "N sources" means N distinct addresses.

enum FloodKind: String, CaseIterable {
    case syn, fragments, hosts
}

struct Flood {
    let kind: FloodKind
    let network: Network
    var g: SeededGenerator
    let packets: UInt64
    let start: Double
    let seconds: Double

    /// The hidden session's ends: an outside host (TEST-NET-3, never drawn as a spoofed source) and a workstation.
    let attacker = Endpoint(ipv4: 0xcb00_714d, ipv6: nil, mac: CaptureOutput.gatewayMAC, vlan: 0)  // 203.0.113.77
    let target: Endpoint
    let targetPort: UInt16 = 3389
    var session: Conversation
    var sessionDue: Double?
    var sessionStart = 0.0

    /// Share of flood SYNs a server answers (a listener whose backlog is full answers some with SYN cookies).
    let answeredShare = 0.25
    /// Datagrams a fragment flood keeps open at once, interleaving their fragments: enough that consecutive fragments
    /// rarely belong together (as from many senders), few enough that a datagram's fragments arrive within
    /// milliseconds of each other, well inside any reassembly timeout.
    let openDatagrams = 64

    // Counters for the report.
    var steps: UInt64 = 0
    var outsideSources: UInt64 = 0
    var outsideIPv6Sources: UInt64 = 0
    var localSenders: UInt64 = 0
    var answered: UInt64 = 0
    var datagrams: UInt64 = 0

    var spoofCounter: UInt32 = 0
    var localCounter: UInt32 = 0
    var v6Counter: UInt64 = 0
    var identificationCounter: UInt32 = 0

    /// A frame due later than the one that caused it (a SYN-ACK, an echo reply): one at most, always before the
    /// next step.
    struct Reply {
        var time: Double
        var from: Endpoint
        var to: Endpoint
        var v6: Bool
        var transport: TransportKind
        var sourcePort: UInt16
        var destinationPort: UInt16
        var sequence: UInt32
        var acknowledgement: UInt32
    }
    var reply: Reply?

    struct Datagram {
        var source: Endpoint
        var destination: Endpoint
        var v6: Bool
        var identification: UInt32
        var ipProtocol: UInt8
        var fragmentsLeft: Int
        var sendsFirst: Bool
        var nextOffset = 8
    }
    var open: [Datagram] = []

    init(kind: FloodKind, network: Network, seed: UInt64, packets: UInt64, start: Double, seconds: Double) {
        self.kind = kind
        self.network = network
        g = SeededGenerator(seed: seed ^ 0x666c_6f6f_6421)
        self.packets = packets
        self.start = start
        self.seconds = seconds
        target = network.clients[42 % network.clients.count]
        session = Conversation(kind: .tcp, client: attacker, server: target, v6: false,
                               clientPort: UInt16(49_152 + g.below(16_000)), serverPort: targetPort)
        session.rtt = 0.03
        session.clientSequence = UInt32(truncatingIfNeeded: g.next())
        session.serverSequence = UInt32(truncatingIfNeeded: g.next())
        session.rounds = 10
        session.thinkTime = 0.5
        session.meanSegments = 3
        session.requestSize = 120
        session.ending = .fin
    }

    /// Frames a step writes on average, so that `packets` frames span `seconds`.
    var framesPerStep: Double {
        switch kind {
        case .syn: 1 + answeredShare
        case .fragments: 1
        case .hosts: 1 + 0.25 / 3
        }
    }

    mutating func run(into out: CaptureOutput) {
        let gap = seconds / max(1, Double(packets) / framesPerStep)
        var stepTime = start
        sessionStart = start + seconds / 2
        sessionDue = sessionStart
        while out.packets < packets {
            let replyTime = reply?.time ?? .infinity
            let sessionTime = sessionDue ?? .infinity
            if sessionTime <= min(replyTime, stepTime) {
                sessionDue = session.emit(at: sessionTime, to: out, &g, network: network).map { sessionTime + $0 }
                continue
            }
            if let r = reply, r.time <= stepTime {
                let flags = r.transport == .tcp ? TCPFlag.syn | TCPFlag.ack : 0
                out.frame(at: r.time, from: r.from, to: r.to, v6: r.v6, transport: r.transport,
                          sourcePort: r.sourcePort, destinationPort: r.destinationPort, flags: flags,
                          sequence: r.sequence, acknowledgement: r.acknowledgement, payload: r.transport == .icmp ? 56 : 0)
                reply = nil
                continue
            }
            switch kind {
            case .syn: synStep(at: stepTime, gap: gap, out)
            case .fragments: fragmentStep(at: stepTime, out)
            case .hosts: hostStep(at: stepTime, gap: gap, out)
            }
            steps += 1
            stepTime += gap
        }
    }

    /// One line for the generator's report: what the flood holds and where the session is.
    var report: String {
        var parts = ["\(kind.rawValue) flood: \(outsideSources) spoofed outside sources (\(outsideIPv6Sources) IPv6)"]
        switch kind {
        case .syn: parts.append("\(answered) SYNs answered")
        case .fragments: parts.append("\(datagrams) datagrams")
        case .hosts: parts.append("\(localSenders) local ARP senders, \(answered) pings answered")
        }
        parts.append("hidden session \(format(attacker.ipv4)):\(session.clientPort) -> \(format(target.ipv4)):\(targetPort)/tcp "
            + "at \(Int(sessionStart - start)) s")
        return parts.joined(separator: ", ")
    }

    // MARK: Steps

    mutating func synStep(at time: Double, gap: Double, _ out: CaptureOutput) {
        let v6 = g.below(8) == 0
        let source = spoofedOutside(v6: v6)
        let server = network.dmz[g.below(network.dmz.count)]
        let port: UInt16 = g.chance(0.8) ? 443 : 80
        // An odd multiplier permutes each block of 65,536 steps: every source port, 0 included, once per block.
        let sourcePort = UInt16(truncatingIfNeeded: steps &* 40_503)
        let sequence = UInt32(truncatingIfNeeded: g.next())
        out.frame(at: time, from: source, to: server, v6: v6, transport: .tcp, sourcePort: sourcePort,
                  destinationPort: port, flags: TCPFlag.syn, sequence: sequence, payload: 0)
        if g.chance(answeredShare) {
            answered += 1
            reply = Reply(time: time + gap / 2, from: server, to: source, v6: v6, transport: .tcp, sourcePort: port,
                          destinationPort: sourcePort, sequence: UInt32(truncatingIfNeeded: g.next()),
                          acknowledgement: sequence &+ 1)
        }
    }

    mutating func fragmentStep(at time: Double, _ out: CaptureOutput) {
        if open.count < openDatagrams { open.append(newDatagram()) }
        let i = g.below(open.count)
        var d = open[i]
        let first = d.sendsFirst
        let offset: Int, payload: Int, more: Bool
        if first {
            (offset, payload, more) = (0, 8, true)
            d.sendsFirst = false
        } else if d.fragmentsLeft == 1 && g.chance(0.25) {
            // A final fragment far beyond the data sent: a hole that never fills.
            (offset, payload, more) = (d.nextOffset + 8 * (1 + g.below(100)), 8, false)
        } else {
            // Overlaps only from the second later fragment on: offset 0 belongs to the first fragment alone.
            switch d.nextOffset > 8 ? g.below(8) : 7 {
            case 0: (offset, payload) = (d.nextOffset - 8, 8)  // the same 8 bytes again
            case 1: (offset, payload) = (d.nextOffset - 8, 16)  // overlaps the last fragment and goes on
            default: (offset, payload) = (d.nextOffset, 8)
            }
            more = true
        }
        let proto = d.ipProtocol
        let fill: (UnsafeMutableRawPointer) -> Void = first ? { [g = g.next()] p in
            // The first 8 bytes of the datagram: a UDP header claiming a full datagram, or an ICMP echo request.
            if proto == 17 {
                p.storeBytes(of: UInt16(truncatingIfNeeded: g).bigEndian, as: UInt16.self)
                p.storeBytes(of: UInt16(truncatingIfNeeded: g >> 16 | 1).bigEndian, toByteOffset: 2, as: UInt16.self)
                p.storeBytes(of: UInt16(1480).bigEndian, toByteOffset: 4, as: UInt16.self)
                p.storeBytes(of: UInt16(truncatingIfNeeded: g >> 32 | 1).bigEndian, toByteOffset: 6, as: UInt16.self)
            } else {
                p.storeBytes(of: UInt8(proto == 58 ? 128 : 8), as: UInt8.self)
                p.storeBytes(of: UInt32(truncatingIfNeeded: g).bigEndian, toByteOffset: 4, as: UInt32.self)
            }
        } : { _ in }
        out.fragment(at: time, from: d.source, to: d.destination, v6: d.v6, ipProtocol: proto,
                     identification: d.identification, offset: offset, more: more, payload: payload, fill: fill)
        if !first { d.nextOffset = max(d.nextOffset, offset + payload) }
        d.fragmentsLeft -= 1
        if d.fragmentsLeft <= 0 { open[i] = newDatagram() } else { open[i] = d }
    }

    mutating func newDatagram() -> Datagram {
        datagrams += 1
        let v6 = g.below(8) == 0
        identificationCounter &+= 1
        // IPv4 identifications are 16 bits: they wrap after 65,536 datagrams, as a real sender's do.
        let identification = identificationCounter &* 0x9e37_79b1
        let proto: UInt8 = g.below(4) == 0 ? (v6 ? 58 : 1) : 17
        return Datagram(source: spoofedOutside(v6: v6), destination: localHost(v6: v6), v6: v6,
                        identification: identification, ipProtocol: proto, fragmentsLeft: 2 + g.below(7),
                        sendsFirst: g.below(3) == 0)
    }

    mutating func hostStep(at time: Double, gap: Double, _ out: CaptureOutput) {
        let roll = g.below(100)
        if roll < 20 {
            // A forged ARP sender on the local segment asks for a workstation.
            localCounter &+= 1
            localSenders += 1
            let sender = Endpoint(ipv4: 0x0a80_0000 | permute23(localCounter), ipv6: nil,
                                  mac: 0x0600_0000_0000 | UInt64(localCounter), vlan: 0)
            out.arp(at: time, from: sender, asking: network.clients[g.below(network.clients.count)].ipv4)
            return
        }
        let v6 = g.below(8) == 0
        let source = spoofedOutside(v6: v6)
        let host = localHost(v6: v6)
        if roll < 45 {
            out.frame(at: time, from: source, to: host, v6: v6, transport: .icmp, sourcePort: 0,
                      destinationPort: UInt16(truncatingIfNeeded: steps), sequence: 1, payload: 56)
            if g.below(3) == 0 {
                answered += 1
                reply = Reply(time: time + gap / 2, from: host, to: source, v6: v6, transport: .icmp, sourcePort: 1,
                              destinationPort: UInt16(truncatingIfNeeded: steps), sequence: 1, acknowledgement: 0)
            }
            return
        }
        let ports: [UInt16] = [53, 123, 161, 1900, 5060, 11211]
        let port = g.chance(0.5) ? ports[g.below(ports.count)] : UInt16(1024 + g.below(64_000))
        out.frame(at: time, from: source, to: host, v6: v6, transport: .udp,
                  sourcePort: UInt16(1024 + g.below(64_000)), destinationPort: port, payload: 8 + g.below(56))
    }

    // MARK: Addresses

    /// A new outside address: IPv4 from a bijection of a 32-bit counter, skipping what is not public unicast (and
    /// the hidden session's TEST-NET-3); IPv6 from a counter under 2001:db8:8000::/33.
    mutating func spoofedOutside(v6: Bool) -> Endpoint {
        outsideSources += 1
        if v6 {
            outsideIPv6Sources += 1
            v6Counter += 1
            return Endpoint(ipv4: 0, ipv6: (0x2001_0db8_8000_0000 | v6Counter, g.next() | 1),
                            mac: CaptureOutput.gatewayMAC, vlan: 0)
        }
        while true {
            spoofCounter &+= 1
            let a = permute32(spoofCounter)
            guard Network.isPublic(a), a & 0xffff_ff00 != 0xcb00_7100 else { continue }
            return Endpoint(ipv4: a, ipv6: nil, mac: CaptureOutput.gatewayMAC, vlan: 0)
        }
    }

    /// A workstation (with an IPv6 address when `v6`).
    mutating func localHost(v6: Bool) -> Endpoint {
        let clients = network.clients
        guard v6 else { return clients[g.below(clients.count)] }
        // Even-numbered clients have IPv6 addresses (see Network).
        let pick = clients[2 * g.below((clients.count + 1) / 2)]
        return pick.ipv6 != nil ? pick : network.dmz[0]
    }

    /// A bijection of 32-bit values (xor-shifts and odd multipliers each invert): distinct in, distinct out.
    func permute32(_ x: UInt32) -> UInt32 {
        var h = x
        h ^= h >> 16; h = h &* 0x7feb_352d
        h ^= h >> 15; h = h &* 0x846c_a68b
        h ^= h >> 16
        return h
    }

    /// A bijection of 23-bit values, for forged local senders in 10.128.0.0/9 (outside the site's servers at
    /// 10.1/16 and its clients from 10.2/16 up).
    func permute23(_ x: UInt32) -> UInt32 {
        var h = x & 0x7f_ffff
        h = (h &* 0x2_b5a5) & 0x7f_ffff
        h ^= h >> 11
        h = (h &* 0x5_3d6f) & 0x7f_ffff
        return h
    }

    func format(_ a: UInt32) -> String { "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)" }
}
