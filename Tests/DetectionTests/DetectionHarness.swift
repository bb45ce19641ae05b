// Drives the flow table and the detection engine with hand-built packet summaries, as the pipeline does.

import Detection
import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel

let day: Int64 = 86_400
let start = Timestamp(seconds: 1_763_769_600)  // 2025-11-22T00:00:00Z, a Saturday

func ip(_ text: String) -> IPAddress { IPAddress(text)! }

func tcp(_ from: String, _ fromPort: UInt16, _ to: String, _ toPort: UInt16, _ flags: TCPFlags,
         payload: Int32 = 0) -> PacketSummary {
    var s = PacketSummary()
    s.network = .ipv4
    s.source = ip(from)
    s.destination = ip(to)
    s.ipProtocol = IPProtocol.tcp
    s.hasPorts = true
    s.sourcePort = fromPort
    s.destinationPort = toPort
    s.tcpFlags = flags
    s.payloadLength = payload
    return s
}

func udp(_ from: String, _ fromPort: UInt16, _ to: String, _ toPort: UInt16) -> PacketSummary {
    var s = tcp(from, fromPort, to, toPort, [], payload: 30)
    s.ipProtocol = IPProtocol.udp
    return s
}

func arp(_ sender: String, asks target: String, reply: Bool = false) -> PacketSummary {
    var s = PacketSummary()
    s.network = .arp
    s.source = ip(sender)
    s.destination = ip(target)
    s.arpOperation = reply ? 2 : 1
    return s
}

/// A full TCP session: handshake, data both ways, close.
func session(_ client: String, _ clientPort: UInt16, _ server: String, _ port: UInt16) -> [PacketSummary] {
    [
        tcp(client, clientPort, server, port, .syn), tcp(server, port, client, clientPort, [.syn, .ack]),
        tcp(client, clientPort, server, port, .ack), tcp(client, clientPort, server, port, [.psh, .ack], payload: 20),
        tcp(server, port, client, clientPort, [.psh, .ack], payload: 40),
        tcp(client, clientPort, server, port, [.fin, .ack]), tcp(server, port, client, clientPort, [.fin, .ack]),
    ]
}

struct Harness {
    var flows = FlowTable()
    var engine: DetectionEngine
    var alerts: [Alert] = []
    /// Closing records of what suppression held back, as the pipeline writes them.
    var heldBack: [HeldBackRecord] = []
    var time = start

    init(_ yaml: String = "", hosts: HostTableConfiguration = HostTableConfiguration(),
         ledger: AlertLedgerConfiguration = AlertLedgerConfiguration(),
         detections: [any Detection.Type] = DetectionRegistry.all) throws {
        let site = try SiteLoader.parse(yaml, path: "test.yaml")
        engine = DetectionEngine(site: site, hosts: hosts, ledger: ledger, detections: detections)
    }

    /// Feeds packets `spacing` apart, starting at the harness's current time.
    mutating func feed(_ packets: [PacketSummary], spacing: Duration = .milliseconds(10)) {
        for packet in packets {
            engine.timePassed(to: time)  // as the pipeline: before the packet that moves the clock
            if packet.network == .arp {
                engine.arp(packet, at: time)
            } else {
                let d = flows.process(packet, at: time, wireLength: 60 + Int(packet.payloadLength), handler: &engine)
                if !engine.account(d, flows: flows, at: time, wireLength: 60) {
                    engine.reattach(d, flows: &flows, at: time, wireLength: 60)
                }
            }
            alerts += engine.ledger.drain()
            heldBack += engine.ledger.drainHeldBack()
            time = time + spacing
        }
    }

    mutating func wait(_ duration: Duration) { time = time + duration }

    /// As `Pipeline.finish`: every open flow ends, then a closing record for each key that held alerts back.
    mutating func finish() {
        flows.endAll(handler: &engine)
        engine.ledger.reportHeldBack(at: time, occasion: .endOfRun)
        alerts += engine.ledger.drain()
        heldBack += engine.ledger.drainHeldBack()
    }

    func rules() -> [String] { alerts.map(\.rule.rawValue) }
}
