// `idlewatch-synth`: writes a large, realistic, reproducible capture (and the site file that describes its network)
// for benchmarks and scale tests. The same seed, packet count and options give the same bytes.
//
// Conversations start as a Poisson process over the requested span; each then produces its frames at its own pace,
// and a priority queue interleaves them in timestamp order, so thousands are open at once as on a real link.
// Scenario events (a decommissioned host waking, an idle camera reaching out, remote desktop from outside, a port
// scan, a vendor's maintenance session) are spread evenly through the capture.

import ArgumentParser
import Glibc
import HeapModule

@main
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idlewatch-synth",
        abstract: "Write a synthetic capture of a site's traffic (pcap) and its site file, reproducibly.",
        discussion: """
            The mix: web and intranet TCP sessions with handshakes, request/response rounds and teardowns; DNS, NTP, \
            ping, syslog and ARP; 1 in 8 client segments behind an 802.1Q tag; about 12% of conversations over IPv6; \
            frames from 60 to 1514 bytes. Scenario events every 200,000 packets.
              idlewatch-synth --seed 1 --packets 10000000 -w /tmp/bench.pcap --site-file /tmp/bench-site.yaml
            With --flood, a flood instead (a minute of it by default) with one outside remote-desktop session to an \
            undeclared port hidden in the middle: syn (a spoofed source per SYN, every source port), fragments (tiny \
            fragments of datagrams that never complete), hosts (UDP, ICMP and ARP from a new address per frame).
              idlewatch-synth --flood syn --packets 1000000 -w /tmp/syn.pcap --site-file /tmp/site.yaml
            """)

    @Option(help: "Seed of the generator: the same seed and options give the same capture.")
    var seed: UInt64 = 1

    @Option(help: "Frames to write.")
    var packets: UInt64 = 1_000_000

    @Option(name: .customShort("w"), help: "The capture to write (- for standard output).")
    var output: String

    @Option(help: "Also write the site file describing the synthetic network here.")
    var siteFile: String?

    @Option(help: "Internal client hosts (servers and scenario hosts come in addition).")
    var clients = 5_000

    @Option(help: "Outside hosts (three quarters servers, a quarter clients of the DMZ).")
    var outside = 20_000

    @Option(help: "Hours the capture should span (conversations start evenly over it).")
    var hours = 6.0

    @Option(help: "Time of the first frame, in seconds since 1970 (default 2026-11-02 08:00 UTC).")
    var start = 1_793_606_400.0

    @Option(help: "Write a flood instead of a site's traffic: syn, fragments or hosts.")
    var flood: FloodKind?

    @Option(help: "Seconds a flood spans (its frames evenly spaced over them).")
    var floodSeconds = 60.0

    func validate() throws {
        guard packets > 0 else { throw ValidationError("--packets must be at least 1") }
        guard clients >= 1 && clients <= 1_000_000 else { throw ValidationError("--clients must be 1 to 1000000") }
        guard outside >= 4 && outside <= 10_000_000 else { throw ValidationError("--outside must be 4 to 10000000") }
        guard hours > 0 && hours <= 24 * 3650 else { throw ValidationError("--hours must be positive (at most ten years)") }
        guard floodSeconds > 0 && floodSeconds <= 86_400 else {
            throw ValidationError("--flood-seconds must be positive (at most a day)")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let network = Network(clients: clients, outside: outside, seed: seed)
        if let siteFile {
            let text = Array(network.siteYAML.utf8)
            guard let file = fopen(siteFile, "w"), fwrite(text, 1, text.count, file) == text.count, fclose(file) == 0 else {
                throw SynthError("\(siteFile): \(String(cString: strerror(errno)))")
            }
        }
        let out = try CaptureOutput(path: output)
        if let flood {
            var writer = Flood(kind: flood, network: network, seed: seed, packets: packets, start: start,
                               seconds: floodSeconds)
            writer.run(into: out)
            guard out.close(), out.failure == nil else {
                throw SynthError("\(output): \(String(cString: strerror(out.failure ?? errno)))")
            }
            let message = "idlewatch-synth: \(out.packets) frames, \(out.bytes) bytes, \(writer.report)\n"
            _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            return
        }
        var traffic = Traffic(network: network, seed: seed, packets: packets, span: hours * 3600, start: start)
        traffic.run(into: out)
        guard out.close(), out.failure == nil else {
            throw SynthError("\(output): \(String(cString: strerror(out.failure ?? errno)))")
        }
        let span = traffic.lastTime - start
        var message = "idlewatch-synth: \(out.packets) frames, \(out.bytes) bytes, \(traffic.started) conversations"
        message += ", \(Int(span / 60)) minutes of traffic, \(traffic.events) scenario events\n"
        _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }
}

extension FloodKind: ExpressibleByArgument {}

/// The scheduler: starts conversations and scenario events and interleaves their frames by time.
struct Traffic {
    struct Due: Comparable {
        var time: Double
        var order: UInt64
        var slot: Int32
        static func < (a: Due, b: Due) -> Bool { (a.time, a.order) < (b.time, b.order) }
    }

    let network: Network
    var g: SeededGenerator
    let packets: UInt64
    let start: Double
    /// Mean gap between conversation starts, from the requested span and the mix's mean of about 15 frames each.
    let meanStartGap: Double
    let eventGap: Double
    var conversations: [Conversation] = []
    var freeSlots: [Int32] = []
    var queue = Heap<Due>()
    var order: UInt64 = 0
    var started = 0
    var events = 0
    var lastTime: Double

    init(network: Network, seed: UInt64, packets: UInt64, span: Double, start: Double) {
        self.network = network
        g = SeededGenerator(seed: seed)
        self.packets = packets
        self.start = start
        lastTime = start
        meanStartGap = span / max(1, Double(packets) / 15)
        eventGap = span / max(5, Double(packets) / 200_000)
    }

    mutating func run(into out: CaptureOutput) {
        var nextStart = start
        var nextEvent = start + eventGap / 2
        while out.packets < packets {
            let due = queue.min?.time ?? .infinity
            if nextEvent <= min(due, nextStart) {
                scenarioEvent(at: nextEvent)
                nextEvent += eventGap
                continue
            }
            if nextStart <= due {
                startConversation(at: nextStart)
                nextStart += g.exponential(mean: meanStartGap)
                continue
            }
            let next = queue.removeMin()
            lastTime = next.time
            let slot = Int(next.slot)
            if let gap = conversations[slot].emit(at: next.time, to: out, &g, network: network) {
                schedule(slot: next.slot, at: next.time + gap)
            } else {
                freeSlots.append(next.slot)
            }
        }
    }

    mutating func schedule(slot: Int32, at time: Double) {
        order += 1
        queue.insert(Due(time: time, order: order, slot: slot))
    }

    mutating func add(_ conversation: Conversation, at time: Double) {
        started += 1
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            conversations[Int(free)] = conversation
        } else {
            slot = Int32(conversations.count)
            conversations.append(conversation)
        }
        schedule(slot: slot, at: time)
    }

    var ephemeralPort: UInt16 { mutating get { UInt16(32_768 + g.below(28_000)) } }
    var randomClient: Endpoint { mutating get { network.clients[g.below(network.clients.count)] } }
    var popularServer: Endpoint { mutating get { network.outside[g.popular(network.outsideServerCount)] } }

    mutating func pick(_ list: [Endpoint]) -> Endpoint { list[g.below(list.count)] }

    /// A new everyday conversation, by a fixed mix.
    mutating func startConversation(at time: Double) {
        let v6 = g.chance(0.33)
        let roll = g.below(100)
        switch roll {
        case 0..<52:  // Web and API traffic to outside servers.
            var c = tcp(client: randomClient, server: popularServer, port: g.chance(0.9) ? 443 : 80, v6: v6, outside: true)
            c.meanSegments = 4
            add(c, at: time)
        case 52..<62:  // Intranet: file shares, internal web, a few administrative SSH sessions.
            let which = g.below(100)
            let server = which < 50 ? pick(network.fileServers) : which < 95 ? pick(network.intranetServers) : pick(network.bastions)
            var c = tcp(client: randomClient, server: server, port: which < 50 ? 445 : which < 95 ? 80 : 22, v6: v6, outside: false)
            if which >= 95 { c.interactive(&g) }
            add(c, at: time)
        case 62..<67:  // Outside clients of the DMZ's web servers.
            add(tcp(client: network.outsideClient(&g), server: pick(network.dmz), port: 443, v6: v6, outside: true), at: time)
        case 67..<89:  // DNS through the site's resolver, which asks outside for a third of the names.
            var c = Conversation(kind: .dns, client: randomClient, server: network.resolver, v6: v6,
                                 clientPort: ephemeralPort, serverPort: 53)
            c.rtt = 0.0003
            add(c, at: time)
            if g.chance(0.3) {
                var upstream = Conversation(kind: .dns, client: network.resolver, server: pick(network.outsideResolvers),
                                            v6: false, clientPort: ephemeralPort, serverPort: 53)
                upstream.rtt = 0.01 + g.exponential(mean: 0.02)
                add(upstream, at: time + 0.0001)
            }
        case 89..<92:  // NTP, from clients and from the idle cameras (allowed chatter, to their configured server).
            let camera = g.chance(0.2)
            let client = camera ? pick(network.cameras) : randomClient
            let server = camera ? network.timeServers[0] : pick(network.timeServers)
            var c = Conversation(kind: .ntp, client: client, server: server, v6: false,
                                 clientPort: 123, serverPort: 123)
            c.rtt = 0.02 + g.exponential(mean: 0.02)
            add(c, at: time)
        case 92..<95:
            let server = g.chance(0.5) ? randomClient : popularServer
            var c = Conversation(kind: .ping, client: randomClient, server: server, v6: v6,
                                 clientPort: UInt16(g.below(65_536)), serverPort: 0)
            c.rounds = g.count(mean: 3)
            c.rtt = server.mac == CaptureOutput.gatewayMAC ? 0.01 + g.exponential(mean: 0.04) : 0.0004
            add(c, at: time)
        case 95..<98:
            let sender = g.chance(0.5) ? pick(network.fileServers) : pick(network.intranetServers)
            var c = Conversation(kind: .syslog, client: sender, server: network.collector, v6: false,
                                 clientPort: 514, serverPort: 514)
            c.rounds = g.count(mean: 3)
            add(c, at: time)
        default:
            add(Conversation(kind: .arp, client: randomClient, server: network.gateway, v6: false, clientPort: 0,
                             serverPort: 0), at: time)
        }
    }

    mutating func tcp(client: Endpoint, server: Endpoint, port: UInt16, v6: Bool, outside: Bool) -> Conversation {
        var c = Conversation(kind: .tcp, client: client, server: server, v6: v6, clientPort: ephemeralPort, serverPort: port)
        c.rtt = outside ? 0.01 + g.exponential(mean: 0.04) : 0.0002 + g.exponential(mean: 0.0005)
        c.clientSequence = UInt32(truncatingIfNeeded: g.next())
        c.serverSequence = UInt32(truncatingIfNeeded: g.next())
        c.rounds = g.count(mean: 1.5)
        c.requestSize = g.chance(0.7) ? 40 + g.below(200) : 300 + g.below(900)
        let roll = g.below(100)
        c.ending = roll < 85 ? .fin : roll < 92 ? .reset : roll < 95 ? .unanswered : .open
        return c
    }

    /// The events an IdleWatch user wants found, in turn.
    mutating func scenarioEvent(at time: Double) {
        events += 1
        switch events % 5 {
        case 1:  // The decommissioned server asks for the gateway and resolves a name.
            add(Conversation(kind: .arp, client: network.decommissioned, server: network.gateway, v6: false,
                             clientPort: 0, serverPort: 0), at: time)
            var dns = Conversation(kind: .dns, client: network.decommissioned, server: network.resolver, v6: false,
                                   clientPort: ephemeralPort, serverPort: 53)
            dns.rtt = 0.0003
            add(dns, at: time + 0.01)
        case 2:  // A camera of the idle platform opens HTTPS to an outside address.
            add(tcp(client: pick(network.cameras), server: network.outside[g.below(network.outsideServerCount)],
                    port: 443, v6: false, outside: true), at: time)
        case 3:  // Remote desktop from outside to a workstation, with a session.
            var c = tcp(client: pick(network.attackers), server: randomClient, port: 3389, v6: false, outside: true)
            c.ending = .fin
            c.interactive(&g)
            add(c, at: time)
        case 4:  // A scanner sweeps telnet over a few hundred workstations.
            var c = Conversation(kind: .scan, client: pick(network.attackers), server: network.gateway, v6: false,
                                 clientPort: ephemeralPort, serverPort: 23)
            c.rounds = 200 + g.below(200)
            c.firstTarget = g.below(network.clients.count)
            add(c, at: time)
        default:  // The vendor's allowed maintenance session over the declared mapping.
            var c = tcp(client: network.vendor, server: network.vendorTarget, port: 22, v6: false, outside: true)
            c.ending = .fin
            c.interactive(&g)
            add(c, at: time)
        }
    }
}

extension Conversation {
    /// An interactive session (SSH, remote desktop): many small exchanges with pauses between them.
    mutating func interactive(_ g: inout SeededGenerator) {
        rounds = g.count(mean: 40)
        thinkTime = 3
        meanSegments = 1.5
        requestSize = 40 + g.below(60)
    }
}
