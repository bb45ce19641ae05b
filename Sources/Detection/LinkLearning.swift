// The engine's side of the MAC bindings (HostBaselines/MACBindings.swift): which frames teach them and what the
// detections hear. A flow teaches its first frame's sender (`Flow.originatorMAC`, or `responderMAC` when the first
// frame was the responder's) when it starts, and its responder when it is answered; an ARP frame teaches its sender
// MAC and sender address. Only local addresses that can be a station are bound (an outside address arrives with the
// gateway's MAC, which is how the gateway is known); a MAC that carries many local addresses is a router and its IP
// frames bind nothing. Each observation that finds another MAC on the address (or a MAC the inventory does not
// declare) goes to the detections that react to `.linkBinding`, with the facts they judge it by.

import FlowTracking
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding

extension DetectionEngine {
    /// A flow's start (its first frame's sender) or answer (its responder).
    mutating func learnLink(_ event: FlowEvent, _ flow: Flow, _ annotation: FlowAnnotation, at time: Timestamp) {
        let fromOriginator = event == .started && flow.originatorMAC != 0
        let mac = MACAddress(fromOriginator ? flow.originatorMAC : flow.responderMAC)
        guard !mac.isUnknown, !mac.isGroup else { return }
        let address = fromOriginator ? flow.originator : flow.responder
        let ownPort = fromOriginator ? flow.originatorPort : flow.responderPort
        let peerPort = fromOriginator ? flow.responderPort : flow.originatorPort
        let dhcp = flow.ipProtocol == IPProtocol.udp && ownPort == 68 && peerPort == 67
        let nd = flow.ipProtocol == IPProtocol.icmpv6 && (133...137).contains(ownPort)
        // A DHCP client's exchange, or IPv6 duplicate address detection (a neighbour solicitation from ::): joining.
        if dhcp || nd && ownPort == 135 && address == IPAddress(ipv6High: 0, low: 0) { links.noteJoin(mac, at: time) }
        guard Self.canBeStation(address) else { return }
        let isLocal = fromOriginator ? annotation.originatorIsLocal : annotation.responderIsLocal
        guard isLocal else {
            links.noteOutsideSender(mac, at: time)
            return
        }
        let vlan = flow.key.vlan
        if links.noteLocalSender(mac, address: address, vlan: vlan, at: time) { return }
        let how: BindingSources = dhcp ? .dhcp : nd ? .neighborDiscovery : .frame
        bind(address, vlan: vlan, mac: mac, how: how, arp: .none, target: nil,
             host: fromOriginator ? annotation.originator : annotation.responder, at: time)
    }

    /// An ARP frame (request or reply) from `sender`'s host record.
    mutating func learnLink(arp packet: PacketSummary, sender reference: HostReference, at time: Timestamp) {
        guard packet.arpOperation == 1 || packet.arpOperation == 2 else { return }
        let sender = packet.source, target = packet.destination
        let vlan = UInt32(packet.outerVLAN) << 16 | UInt32(packet.innerVLAN)
        let isReply = packet.arpOperation == 2
        if !isReply && sender != target { links.noteRequest(for: target, vlan: vlan, at: time) }
        guard Self.canBeStation(sender), site.isLocal(sender) else { return }
        let kind: ARPFrameKind = sender == target ? .announcement
            : !isReply ? .request
            : links.wasAskedFor(sender, vlan: vlan, at: time) ? .solicitedReply : .unsolicitedReply
        bind(sender, vlan: vlan, mac: MACAddress(packet.arpSenderMAC), how: .arp, arp: kind, target: target,
             host: reference, at: time)
    }

    /// An address a station can send from: one that can be a host (`IPAddress.canBeHost`: not unspecified,
    /// loopback, multicast or limited broadcast), nor IPv4's "this network" (0/8) or class E (240/4).
    static func canBeStation(_ address: IPAddress) -> Bool {
        guard address.canBeHost else { return false }
        if address.isIPv6 { return true }
        let first = address.low >> 24 & 0xFF
        return first != 0 && first < 240
    }

    mutating func bind(_ address: IPAddress, vlan: UInt32, mac: MACAddress, how: BindingSources, arp: ARPFrameKind,
                       target: IPAddress?, host reference: HostReference, at time: Timestamp) {
        guard let observation = links.observe(address, vlan: vlan, mac: mac, how: how,
                                              answering: arp != .unsolicitedReply, at: time)
        else { return }
        guard !reacting[8].isEmpty else { return }
        let entry = inventory(of: reference, address: address)
        let othersBound = observation.previous.contains { $0.mac != mac }
        let undeclared = observation.isNewMAC && !(entry?.macs.isEmpty ?? true) && !(entry?.macs.contains(mac) ?? false)
        guard othersBound || undeclared else { return }
        var firstSeen = observation.previous.map(\.firstSeen).min() ?? time
        var silence: Duration?
        if hosts.isCurrent(reference) {
            let record = hosts[reference]
            firstSeen = min(firstSeen, record.firstSeen)
            if record.wokeAt == time, let silent = record.silenceBeforeWaking {
                silence = silent
            } else if time - record.lastSeen >= site.learning.dormantAfter {
                silence = time - record.lastSeen
            }
        }
        let own = observation.previous.first { $0.mac == mac }
        let firstClaim = !how.isDisjoint(with: MACBinding.ownClaims) && !(own?.claimsAddress ?? false)
        let context = LinkBindingContext(
            address: address, vlan: vlan, mac: mac, learnedBy: how, time: time, previous: observation.previous,
            isNewMAC: observation.isNewMAC, firstClaim: firstClaim, knownForLearningPeriod: time - firstSeen >= site.learning.period,
            silence: silence, entry: entry, arp: arp, arpTarget: target,
            gatewayMAC: links.gateway(among: observation.previous, at: time), recentJoin: links.joinedRecently(mac, at: time),
            fromRouter: links.router(mac) != nil)
        for position in reacting[8] { detections[position].linkBinding(context, site: site, ledger: &ledger) }
    }
}

extension DetectionEngine {
    /// The state file's section of the MAC bindings (a hosts-stage section, written after `flows`).
    public static let linksSection = "hosts.macs"

    public func encodeLinks(into writer: inout StateWriter) { links.encode(into: &writer) }

    /// Puts back a saved `hosts.macs` section (the reader past its version); the reader must end with it.
    public mutating func restoreLinks(from reader: inout StateReader) throws {
        var restored = MACBindings(capacity: hosts.configuration.bindingCapacity)
        try restored.restore(from: &reader)
        guard reader.isAtEnd else { throw StateDecodingError("saved MAC bindings have trailing bytes") }
        links = restored
    }

    /// Lease changes address-takeover counted instead of alerting (for the run summary).
    public var leaseChanges: UInt64 { detection(AddressTakeover.self)?.leaseChanges ?? 0 }
}
