// Flows in the project's own sample captures (captures/, remade by scripts/make-captures.sh), checked against
// what captures/README.md says the script put on the wire.

import FlowTracking
import PacketDecoding
import Testing

@Suite("Sample captures")
struct SampleCaptureTests {
    func flows(_ name: String) -> [Flow] {
        FlowReplay.flows(of: [TestPaths.captures.appendingPathComponent(name).path])
    }

    @Test("basic-lan: pings, HTTP over IPv4 and IPv6, a closed port, a dropped port, UDP echo and unreachable")
    func basicLAN() throws {
        let flows = flows("basic-lan.pcap")
        let a = IPAddress("10.10.0.1")!, b = IPAddress("10.10.0.2")!
        let a6 = IPAddress("fd00:10::1")!, b6 = IPAddress("fd00:10::2")!
        func tcp(to port: UInt16, from source: IPAddress = a) -> Flow? {
            flows.first { $0.ipProtocol == IPProtocol.tcp && $0.responderPort == port && $0.originator == source }
        }
        let http = try #require(tcp(to: 8080))
        #expect(http.responder == b && http.connectionState == .sf)
        #expect(http.originatorPackets + http.responderPackets == 12)
        #expect(http.responderPayload == 187 + 1154)
        let http6 = try #require(tcp(to: 8080, from: a6))
        #expect(http6.responder == b6 && http6.connectionState == .sf)
        #expect(tcp(to: 81)?.connectionState == .rej)
        let dropped = try #require(tcp(to: 82))
        #expect(dropped.connectionState == .s0 && dropped.originatorPackets == 3 && dropped.responderPackets == 0)
        let echo = try #require(flows.first { $0.ipProtocol == IPProtocol.udp && $0.responderPort == 9999 })
        #expect(echo.connectionState == .sf && echo.originatorPackets == 3 && echo.responderPackets == 3)
        #expect(echo.originatorPayload == 54)
        let refused = try #require(flows.first { $0.ipProtocol == IPProtocol.udp && $0.responderPort == 9998 })
        #expect(refused.connectionState == .s0)
        let unreachable = try #require(flows.first { $0.ipProtocol == IPProtocol.icmp && $0.originatorPort == 3 })
        #expect(unreachable.originator == b && unreachable.responderPort == 3, "type 3 code 3 from the server")
        let ping = try #require(flows.first { $0.ipProtocol == IPProtocol.icmp && $0.originatorPort == 8 })
        #expect(ping.originator == a && ping.originatorPackets == 3 && ping.responderPackets == 3)
        let ping6 = try #require(flows.first { $0.ipProtocol == IPProtocol.icmpv6 && $0.originatorPort == 128 })
        #expect(ping6.originator == a6 && ping6.originatorPackets == 3 && ping6.responderPackets == 3)
        let neighbour = try #require(flows.first { $0.ipProtocol == IPProtocol.icmpv6 && $0.originatorPort == 135 })
        #expect(neighbour.originator == a6 && neighbour.originatorPackets == 1)
        // 53 packets, 2 of them ARP (no flow): everything else is in exactly one flow.
        #expect(flows.reduce(0) { $0 + $1.originatorPackets + $1.responderPackets } == 51)
    }

    @Test("vlan-tagged: every flow is on VLAN 100")
    func vlanTagged() throws {
        let flows = flows("vlan-tagged.pcap")
        #expect(!flows.isEmpty)
        #expect(flows.allSatisfy { $0.outerVLAN == 100 && $0.innerVLAN == 0 })
        #expect(flows.first { $0.responderPort == 8080 }?.connectionState == .sf)
        #expect(flows.reduce(0) { $0 + $1.originatorPackets + $1.responderPackets } == 24)
    }

    @Test("qinq: outer S-tag 200, inner C-tag 300")
    func qinq() throws {
        let flows = flows("qinq.pcap")
        #expect(flows.count == 2)
        #expect(flows.allSatisfy { $0.outerVLAN == 200 && $0.innerVLAN == 300 })
        #expect(flows.first { $0.responderPort == 8080 }?.connectionState == .sf)
    }

    @Test("ssh-like-guessing: 8 complete sessions to 2222, then a connect scan of 20 ports")
    func guessingAndScan() throws {
        let flows = flows("ssh-like-guessing.pcap")
        let guesser = IPAddress("10.20.0.66")!, scanner = IPAddress("10.20.0.99")!
        let sessions = flows.filter { $0.originator == guesser }
        #expect(sessions.count == 8)
        #expect(sessions.allSatisfy { $0.responderPort == 2222 && $0.connectionState == .sf })
        #expect(sessions.allSatisfy { $0.originatorPayload == 13 && $0.responderPayload == 40 })
        let scan = flows.filter { $0.originator == scanner }
        #expect(scan.count == 20)
        #expect(scan.filter { $0.connectionState == .rej }.count == 19)
        #expect(scan.first { $0.responderPort == 2222 }?.connectionState == .rsto)
    }
}
