// Who a flow's originator is when its first packet is a discovery message or a server's answer: router and neighbour
// discovery, multicast listener reports and DHCP, and never a group or broadcast address made the originator of a
// flow it sent nothing in.

import FlowTracking
import PacketDecoding
import Testing

let broadcastMAC: UInt64 = 0xFFFF_FFFF_FFFF

/// An ICMPv6 message (or, with `ipv4`, an ICMP one), sent to `toMAC` below IP.
func icmp6(_ from: String, _ to: String, type: UInt8, code: UInt8 = 0, toMAC: UInt64 = 0x3333_0000_0001)
    -> PacketSummary
{
    var s = icmp(IPAddress(from)!, IPAddress(to)!, type: type, code: code)
    s.network = .ipv6
    s.ipProtocol = IPProtocol.icmpv6
    s.sourceMAC = 0x0200_0000_0042
    s.destinationMAC = toMAC
    return s
}

/// A UDP datagram between `from` and `to`, sent to `toMAC` below IP.
func datagram(_ from: String, _ fromPort: UInt16, _ to: String, _ toPort: UInt16, toMAC: UInt64 = 0x0200_0000_0001)
    -> PacketSummary
{
    var s = udp(IPAddress(from)!, fromPort, IPAddress(to)!, toPort)
    s.network = s.source.isIPv6 ? .ipv6 : .ipv4
    s.sourceMAC = 0x0200_0000_0042
    s.destinationMAC = toMAC
    return s
}

@Suite("Attribution in the flow table")
struct AttributionFlowTests {
    /// The one flow the packet makes: its originator and the type or port its originator side shows.
    func only(_ packet: PacketSummary) -> Flow? {
        let ended = run([packet]).ended
        return ended.count == 1 ? ended[0] : nil
    }

    @Test("router and neighbour discovery messages belong to their sender, with the type as in the frame",
          arguments: [
              ("fe80::1", "ff02::1", UInt8(134)),  // unsolicited router advertisement
              ("fe80::2", "ff02::1", UInt8(136)),  // unsolicited neighbour advertisement
              ("fe80::3", "ff02::2", UInt8(133)),  // router solicitation
              ("fe80::3", "ff02::1:ff00:2", UInt8(135)),  // neighbour solicitation to a solicited-node group
              ("::", "ff02::1:ff00:5", UInt8(135)),  // duplicate-address detection
              ("fe80::3", "ff02::16", UInt8(143)),  // MLDv2 report
              ("fe80::3", "ff02::1:3", UInt8(131)),  // MLDv1 report to its group
              ("fe80::3", "ff02::1:3", UInt8(132)),  // MLD done
              ("fe80::1", "ff02::1", UInt8(137)),  // redirect
          ])
    func discoveryToGroups(from: String, to: String, type: UInt8) throws {
        let flow = try #require(only(icmp6(from, to, type: type)))
        #expect(flow.originator == IPAddress(from)!)
        #expect(flow.originatorPort == UInt16(type))
        #expect(flow.originatorPackets == 1 && flow.responderPackets == 0)
        #expect(flow.originatorSentFirst && !flow.openedByAnswer)
    }

    @Test("a unicast neighbour or router advertisement seen first is still its sender's")
    func unicastAdvertisements() throws {
        for type: UInt8 in [134, 136] {
            let flow = try #require(only(icmp6("fe80::2", "fe80::3", type: type, toMAC: 0x0200_0000_0003)))
            #expect(flow.originator == IPAddress("fe80::2")!)
            #expect(flow.originatorPort == UInt16(type))
        }
        // A solicitation and its answer to the same address are still one flow, started by the solicitation.
        let pair = run([icmp6("fe80::3", "fe80::2", type: 135, toMAC: 0x0200_0000_0002),
                        icmp6("fe80::2", "fe80::3", type: 136, toMAC: 0x0200_0000_0003)]).ended
        #expect(pair.count == 1 && pair.first?.originator == IPAddress("fe80::3")!)
        #expect(pair.first?.responderPackets == 1)
    }

    @Test("an ICMPv4 router advertisement to all-hosts is the router's")
    func ipv4RouterAdvertisement() throws {
        var advertisement = icmp(IPAddress("192.168.1.1")!, IPAddress("224.0.0.1")!, type: 9)
        advertisement.destinationMAC = 0x0100_5E00_0001
        let flow = try #require(only(advertisement))
        #expect(flow.originator == IPAddress("192.168.1.1")! && flow.originatorPort == 9)
    }

    @Test("DHCP: a client's discover and request are the client's; a server's offer and ack answer it")
    func dhcp() throws {
        let discover = try #require(only(datagram("0.0.0.0", 68, "255.255.255.255", 67, toMAC: broadcastMAC)))
        #expect(discover.originator == IPAddress("0.0.0.0")! && !discover.openedByAnswer)
        // An offer broadcast: the server answered, but a broadcast address originates nothing, so the flow stays
        // the server's, marked as opened by an answer.
        let broadcastOffer = try #require(only(datagram("192.168.1.1", 67, "255.255.255.255", 68, toMAC: broadcastMAC)))
        #expect(broadcastOffer.originator == IPAddress("192.168.1.1")!)
        #expect(broadcastOffer.openedByAnswer && broadcastOffer.originatorSentFirst)
        // An offer to the offered address: the server is the responder.
        let unicastOffer = try #require(only(datagram("192.168.1.1", 67, "192.168.1.100", 68)))
        #expect(unicastOffer.originator == IPAddress("192.168.1.100")!)
        #expect(unicastOffer.responder == IPAddress("192.168.1.1")!)
        #expect(!unicastOffer.originatorSentFirst && unicastOffer.responderPackets == 1)
        // The offered address behind a broadcast MAC is a directed broadcast as far as the table knows: not turned.
        let offerByBroadcastMAC = try #require(only(datagram("192.168.1.1", 67, "192.168.1.100", 68, toMAC: broadcastMAC)))
        #expect(offerByBroadcastMAC.originator == IPAddress("192.168.1.1")! && offerByBroadcastMAC.openedByAnswer)
        // A relay's 67 to 67 is left as it comes.
        let relay = try #require(only(datagram("10.0.0.1", 67, "10.0.9.1", 67)))
        #expect(relay.originator == IPAddress("10.0.0.1")! && !relay.openedByAnswer)
    }

    @Test("DHCPv6: a client's solicit is the client's; a server's advertise answers it")
    func dhcpv6() throws {
        let solicit = try #require(only(datagram("fe80::c", 546, "ff02::1:2", 547, toMAC: 0x3333_0001_0002)))
        #expect(solicit.originator == IPAddress("fe80::c")!)
        let advertise = try #require(only(datagram("fe80::5", 547, "fe80::c", 546)))
        #expect(advertise.originator == IPAddress("fe80::c")! && advertise.responder == IPAddress("fe80::5")!)
        #expect(!advertise.originatorSentFirst)
    }

    @Test("an answer to a group, broadcast or unspecified address is never turned round toward it")
    func neverTowardGroups() throws {
        let echoReplyToBroadcast = icmp(IPAddress("10.0.0.2")!, IPAddress("255.255.255.255")!, type: 0)
        #expect(only(echoReplyToBroadcast)?.originator == IPAddress("10.0.0.2")!)
        var synAckToGroupMAC = tcp(IPAddress("10.0.0.2")!, 80, IPAddress("10.0.0.255")!, 40000, [.syn, .ack])
        synAckToGroupMAC.destinationMAC = broadcastMAC
        #expect(only(synAckToGroupMAC)?.originator == IPAddress("10.0.0.2")!)
        #expect(only(synAckToGroupMAC)?.openedByAnswer == true)
        let fromServerPortToUnspecified = tcp(IPAddress("10.0.0.2")!, 80, IPAddress("0.0.0.0")!, 40000, .ack)
        #expect(only(fromServerPortToUnspecified)?.originator == IPAddress("10.0.0.2")!)
        // Between two unicast addresses the answer still makes its receiver the originator, loopback included.
        let synAck = tcp(IPAddress("127.0.0.1")!, 80, IPAddress("127.0.0.1")!, 47660, [.syn, .ack])
        #expect(only(synAck)?.originatorPort == 47660)
        #expect(only(synAck)?.originatorSentFirst == false)
    }
}
