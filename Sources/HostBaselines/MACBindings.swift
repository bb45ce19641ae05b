// What each local address is below IP: the MACs that sent frames from it, per (address, VLAN), each with its first
// and last sighting and how it was learned (ARP sender, neighbour discovery, DHCP, ordinary frames). The detection
// engine feeds it at a flow's start (the first frame's sender), when a flow is answered (the responder) and with every
// ARP frame (sender MAC and sender address): never per packet, so the packet path gains no lookup.
//
// A MAC is a router (or a NAT, a proxy, a firewall) rather than the identity of the addresses it carries when
//  - it sends frames from an outside address: only the segment's way out does (`carriesOutside`; this is also how
//    the gateway is known: the local address that MAC claims in ARP is the gateway's address), or
//  - it sends IP frames from more than `routerThreshold` (16) distinct local addresses within `routerWindow` (1 h).
//    A host has one IPv4 address, maybe an alias or two, and on IPv6 a link-local, a stable and a few temporary
//    addresses (RFC 8981 makes a new one a day): 16 leaves room for a well-aliased server, while a router between
//    local subnets forwards from dozens of hosts within minutes.
// A router's IP frames create no binding (the bindings they made before it was marked are dropped); its ARP frames
// still do, since in ARP it speaks for itself.
//
// Bounds (each counted when reached, in `counters`): `HostTableConfiguration.bindingCapacity` (address, VLAN) entries,
// about `bindingEntryBytes` each; when full, the least recently seen half goes (`BoundedWindow`'s order); at most
// `macsPerAddress` (4) MACs per entry, the least recently seen forgotten for a fifth; per-MAC address counts for as
// many MACs as there are entries (one or two sightings each for a station, about 100 bytes: 6.5 MB at 65,536);
// `routerCapacity` router marks; `recentCapacity` recent ARP requests (for telling a solicited reply from an
// unsolicited one) and clients that joined recently (a DHCP exchange or an ARP probe).
//
// Saved as the state file's section `hosts.macs` (version 1): every table in key order, every value checked on read.

import BoundedTables
import PacketDecoding
import StateCoding

/// How a binding was learned (a set: one MAC may be seen in several ways).
public struct BindingSources: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The sender of an ARP frame (sender hardware and protocol addresses).
    public static let arp = BindingSources(rawValue: 1 << 0)
    /// ICMPv6 neighbour discovery or router messages (types 133 to 137) from the address.
    public static let neighborDiscovery = BindingSources(rawValue: 1 << 1)
    /// A DHCP client's exchange (UDP 68 to 67) from the address (a renewal).
    public static let dhcp = BindingSources(rawValue: 1 << 2)
    /// Any other IP frame from the address.
    public static let frame = BindingSources(rawValue: 1 << 3)
    static let all: BindingSources = [.arp, .neighborDiscovery, .dhcp, .frame]

    /// `arp+frame`, for reports and messages.
    public var names: String {
        [(BindingSources.arp, "arp"), (.neighborDiscovery, "nd"), (.dhcp, "dhcp"), (.frame, "frame")]
            .compactMap { contains($0.0) ? $0.1 : nil }.joined(separator: "+")
    }
}

/// One MAC seen sending from one address.
public struct MACBinding: Sendable, Equatable {
    public var mac: MACAddress
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    /// The last frame in which it answered for the address: an IP frame from it, an ARP request, a solicited reply or
    /// an announcement; not an ARP reply nobody asked for, which is what a cache poisoner sends. Nil: never.
    public var lastAnswered: Timestamp?
    public var learnedBy: BindingSources

    /// Ways in which a station speaks for an address itself: a router forwarding others' frames never does.
    public static let ownClaims: BindingSources = [.arp, .neighborDiscovery, .dhcp]

    /// The MAC spoke for the address itself (ARP sender, neighbour discovery, DHCP), not only sent IP frames from it.
    public var claimsAddress: Bool { !learnedBy.isDisjoint(with: Self.ownClaims) }

    public init(mac: MACAddress, firstSeen: Timestamp, lastSeen: Timestamp, lastAnswered: Timestamp?,
                learnedBy: BindingSources) {
        self.mac = mac
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.lastAnswered = lastAnswered
        self.learnedBy = learnedBy
    }
}

/// A local address on one VLAN (`outer << 16 | inner`, 0 untagged, as `FlowKey.vlan`).
public struct BindingKey: Hashable, Comparable, Sendable {
    public var address: IPAddress
    public var vlan: UInt32

    public init(address: IPAddress, vlan: UInt32) {
        self.address = address
        self.vlan = vlan
    }

    public static func < (a: BindingKey, b: BindingKey) -> Bool { (a.address, a.vlan) < (b.address, b.vlan) }
}

/// The MACs of one (address, VLAN), oldest first sighting first.
public struct AddressBindings: WindowEntry, Sendable {
    public internal(set) var macs: [MACBinding] = []
    public init() {}
    public var lastActive: Timestamp { macs.map(\.lastSeen).max() ?? .zero }
    public var memberCount: Int { macs.count }
}

/// A MAC that carries traffic for others.
public struct RouterMark: WindowEntry, Sendable, Equatable {
    public var since: Timestamp = .zero
    public var lastActive: Timestamp = .zero
    /// It sent frames from outside addresses: the segment's gateway.
    public var carriesOutside = false
    /// It sent IP frames from more than `routerThreshold` local addresses.
    public var carriesMany = false
    public init() {}
    public var memberCount: Int { 1 }
}

/// When something was last seen (recent ARP requests, recent DHCP clients).
public struct LastSeen: WindowEntry, Sendable {
    public var lastActive: Timestamp = .zero
    public init() {}
    public var memberCount: Int { 1 }
}

/// What one observation found.
public struct BindingObservation: Sendable {
    /// The entry's bindings before this frame (this MAC's earlier one included, if it had one).
    public var previous: [MACBinding]
    /// The MAC was not bound to the address before.
    public var isNewMAC: Bool
}

public struct MACBindingCounters: Sendable, Equatable {
    /// (address, VLAN) entries dropped to make room (`bindingCapacity`).
    public var entriesEvicted: UInt64 = 0
    /// MACs dropped from an entry that held `macsPerAddress`.
    public var macsForgotten: UInt64 = 0
    /// MACs marked as routers (they carry outside traffic, or many local addresses).
    public var routersMarked: UInt64 = 0
    /// IP frames from a router's MAC, not taken as bindings.
    public var routerFramesSkipped: UInt64 = 0
    public init() {}
}

public struct MACBindings {
    /// MACs kept per (address, VLAN): a host, a replacement, a conflict and a spare; more at once is a spoofing tool's
    /// doing, and the newest are what the rules need.
    public static let macsPerAddress = 4
    /// Distinct local addresses whose IP frames one MAC may send within `routerWindow` before it counts as a router
    /// (see the file header for why 16).
    public static let routerThreshold = 16
    public static let routerWindow = Duration.seconds(3600)
    /// An ARP reply is solicited when a request for its sender address was seen this recently: a reply comes within
    /// milliseconds, and ARP retries a request after a second, a few times.
    public static let requestWindow = Duration.seconds(10)
    /// A MAC joined this recently: a DHCP exchange, an ARP probe (RFC 5227: sender address 0.0.0.0, what a client
    /// sends for the address it is about to use, DHCP-given or not) or IPv6 duplicate address detection (a neighbour
    /// solicitation from ::, RFC 4862). The address it then uses is a lease it was
    /// given, or one it checked nobody held (a client probes within seconds of its DHCP acknowledgment).
    public static let joinWindow = Duration.seconds(600)
    public static let routerCapacity = 4096
    public static let recentCapacity = 4096
    /// Memory per (address, VLAN) entry, approximately: the key (an address and a VLAN, 24 bytes) and the entry's
    /// array header (8) in the dictionary (about 1.5 times that for its load factor), plus the array's storage (a
    /// 32-byte header and 48 bytes per MAC; an entry holds 1 MAC on most networks, 4 at most): about 130 bytes with one
    /// MAC, 270 with four. 65,536 entries: 9 to 18 MB.
    public static let bindingEntryBytes = 270

    public var entries: BoundedWindow<BindingKey, AddressBindings>
    /// Per MAC: the local addresses (with their VLANs) it sent IP frames from within `routerWindow` (at most
    /// `routerThreshold` + 1).
    public internal(set) var carried: BoundedWindow<UInt64, WindowMembers<BindingKey>>
    public internal(set) var routers: BoundedWindow<UInt64, RouterMark>
    /// ARP requests seen, by the address asked for (and VLAN).
    public internal(set) var requests: BoundedWindow<BindingKey, LastSeen>
    /// Clients that joined (a DHCP exchange, an ARP probe), by MAC.
    public internal(set) var joiners: BoundedWindow<UInt64, LastSeen>
    var tally = MACBindingCounters()

    public var counters: MACBindingCounters {
        var c = tally
        c.entriesEvicted = entries.counters.forgotten
        return c
    }

    public init(capacity: Int) {
        entries = BoundedWindow(window: nil, capacity: capacity)
        // One per local station's MAC, so as many as there are bindings: at 4,096 a /16 of hosts kept the table
        // full, and every new MAC paid for forgetting half of it (a quarter of a replay's CPU time).
        carried = BoundedWindow(window: Self.routerWindow, capacity: capacity,
                                memberCapacity: Self.routerThreshold + 1, membersWhenFull: .refuseNew)
        routers = BoundedWindow(window: nil, capacity: Self.routerCapacity)
        requests = BoundedWindow(window: Self.requestWindow, capacity: Self.recentCapacity)
        joiners = BoundedWindow(window: Self.joinWindow, capacity: Self.recentCapacity)
    }

    public var count: Int { entries.count }

    /// The bindings of `address` on `vlan`.
    public func bindings(_ address: IPAddress, vlan: UInt32) -> [MACBinding] {
        entries[BindingKey(address: address, vlan: vlan)]?.macs ?? []
    }

    /// Every entry in key order (for the hosts report and tests).
    public var all: [(key: BindingKey, macs: [MACBinding])] { entries.sorted.map { ($0.key, $0.entry.macs) } }

    public func router(_ mac: MACAddress) -> RouterMark? { routers[mac.value] }

    /// A gateway silent for this long is gone, not being impersonated: a router forwards or refreshes its ARP entries
    /// many times an hour on any segment with traffic, so a new MAC claiming the address of one silent longer has
    /// replaced it (address-takeover's to judge).
    public static let gatewayLiveWindow = Duration.seconds(3600)

    /// The MAC of the segment's gateway among `bindings` (one that carries outside traffic), if it was active within
    /// `gatewayLiveWindow` of `time`.
    public func gateway(among bindings: [MACBinding], at time: Timestamp) -> MACAddress? {
        for binding in bindings {
            guard let mark = routers[binding.mac.value], mark.carriesOutside else { continue }
            if time - max(binding.lastSeen, mark.lastActive) <= Self.gatewayLiveWindow { return binding.mac }
        }
        return nil
    }

    /// Whether an ARP request for `address` was seen within `requestWindow` of `time`.
    public func wasAskedFor(_ address: IPAddress, vlan: UInt32, at time: Timestamp) -> Bool {
        guard let seen = requests[BindingKey(address: address, vlan: vlan)] else { return false }
        return time - seen.lastActive <= Self.requestWindow
    }

    /// Whether `mac` joined (a DHCP exchange, an ARP probe) within `joinWindow` before `time`.
    public func joinedRecently(_ mac: MACAddress, at time: Timestamp) -> Bool {
        guard let seen = joiners[mac.value] else { return false }
        return time - seen.lastActive <= Self.joinWindow
    }

    public mutating func noteRequest(for address: IPAddress, vlan: UInt32, at time: Timestamp) {
        requests.sweep(at: time)
        requests.update(BindingKey(address: address, vlan: vlan), at: time) { $0.lastActive = max($0.lastActive, time) }
    }

    /// `mac` made a DHCP exchange or an ARP probe.
    public mutating func noteJoin(_ mac: MACAddress, at time: Timestamp) {
        guard !mac.isUnknown, !mac.isGroup else { return }
        joiners.sweep(at: time)
        joiners.update(mac.value, at: time) { $0.lastActive = max($0.lastActive, time) }
    }

    /// `mac` sent a frame from an outside address: it is the way out (a gateway).
    public mutating func noteOutsideSender(_ mac: MACAddress, at time: Timestamp) {
        guard !mac.isUnknown, !mac.isGroup else { return }
        mark(mac, at: time) { $0.carriesOutside = true }
    }

    /// `mac` sent an IP frame from the local `address`: counted towards the router threshold. Returns whether `mac` is
    /// a router (marked before, or now), in which case the frame is no binding.
    public mutating func noteLocalSender(_ mac: MACAddress, address: IPAddress, vlan: UInt32, at time: Timestamp) -> Bool {
        if let mark = routers[mac.value] {
            if time > mark.lastActive { routers.update(mac.value, at: time) { $0.lastActive = time } }
            tally.routerFramesSkipped &+= 1
            return true
        }
        carried.sweep(at: time)
        guard let (_, members) = carried.observe(BindingKey(address: address, vlan: vlan), for: mac.value, at: time),
              members.count > Self.routerThreshold
        else { return false }
        // Now a router: the bindings its frames made go (its ARP claims stay).
        for sighting in members.oldestFirst { forgetFrameBindings(of: mac, at: sighting.member) }
        carried.remove(mac.value)
        mark(mac, at: time) { $0.carriesMany = true }
        tally.routerFramesSkipped &+= 1
        return true
    }

    mutating func mark(_ mac: MACAddress, at time: Timestamp, _ body: (inout RouterMark) -> Void) {
        let isNew = !routers.contains(mac.value)
        routers.update(mac.value, at: time) { mark in
            if isNew { mark.since = time }
            mark.lastActive = max(mark.lastActive, time)
            body(&mark)
        }
        if isNew { tally.routersMarked &+= 1 }
    }

    /// Drops `mac` from the entry of `key` where it was never seen in ARP.
    mutating func forgetFrameBindings(of mac: MACAddress, at key: BindingKey) {
        entries.update(key, at: .zero, create: false) { entry in
            entry.macs.removeAll { $0.mac == mac && !$0.learnedBy.contains(.arp) }
        }
        if entries[key]?.macs.isEmpty == true { entries.remove(key) }
    }

    /// A frame from `address` on `vlan` sent by `mac`, learned `how`; `answering` as `MACBinding.lastAnswered` says.
    /// Returns what the entry held before, or nil when the MAC names no station (0: no link layer; a group MAC).
    public mutating func observe(_ address: IPAddress, vlan: UInt32, mac: MACAddress, how: BindingSources,
                                 answering: Bool, at time: Timestamp) -> BindingObservation? {
        guard !mac.isUnknown, !mac.isGroup else { return nil }
        let key = BindingKey(address: address, vlan: vlan)
        var observation = BindingObservation(previous: [], isNewMAC: true)
        var forgot = false
        entries.update(key, at: time) { entry in
            observation.previous = entry.macs
            if let i = entry.macs.firstIndex(where: { $0.mac == mac }) {
                observation.isNewMAC = false
                entry.macs[i].lastSeen = max(entry.macs[i].lastSeen, time)
                entry.macs[i].learnedBy.formUnion(how)
                if answering { entry.macs[i].lastAnswered = max(entry.macs[i].lastAnswered ?? time, time) }
                return
            }
            if entry.macs.count >= Self.macsPerAddress,
               let stalest = entry.macs.indices.min(by: { entry.macs[$0].lastSeen < entry.macs[$1].lastSeen })
            {
                entry.macs.remove(at: stalest)
                forgot = true
            }
            entry.macs.append(MACBinding(mac: mac, firstSeen: time, lastSeen: time, lastAnswered: answering ? time : nil,
                                         learnedBy: how))
        }
        if forgot { tally.macsForgotten &+= 1 }
        return observation
    }

    // MARK: Saved section

    /// The version of the `hosts.macs` section this build writes and reads.
    public static let sectionVersion = 1

    public func encode(into writer: inout StateWriter) {
        entries.encode(into: &writer) { key, entry, writer in
            writer.put(key.address)
            writer.put(key.vlan)
            writer.putCount(entry.macs.count)
            for binding in entry.macs {
                writer.put(binding.mac.value)
                writer.put(binding.firstSeen)
                writer.put(binding.lastSeen)
                writer.put(binding.lastAnswered)
                writer.put(binding.learnedBy.rawValue)
            }
        }
        carried.encode(into: &writer) { mac, members, writer in
            writer.put(mac)
            writer.putCount(members.count)
            for sighting in members.byMember {
                writer.put(sighting.member.address)
                writer.put(sighting.member.vlan)
                writer.put(sighting.time)
            }
        }
        routers.encode(into: &writer) { mac, mark, writer in
            writer.put(mac)
            writer.put(mark.since)
            writer.put(mark.lastActive)
            writer.put(mark.carriesOutside)
            writer.put(mark.carriesMany)
        }
        requests.encode(into: &writer) { key, seen, writer in
            writer.put(key.address)
            writer.put(key.vlan)
            writer.put(seen.lastActive)
        }
        joiners.encode(into: &writer) { mac, seen, writer in
            writer.put(mac)
            writer.put(seen.lastActive)
        }
    }

    static func readMAC(_ reader: inout StateReader, unicast: Bool = true) throws -> MACAddress {
        let value = try reader.uint64()
        guard value >> 48 == 0, value != 0, !unicast || !MACAddress.isGroup(value) else {
            throw StateDecodingError("saved MAC \(String(value, radix: 16)) is not a station's")
        }
        return MACAddress(value)
    }

    static func readVLAN(_ reader: inout StateReader) throws -> UInt32 {
        let vlan = try reader.uint32()
        // Each tag's VLAN ID is 12 bits.
        guard vlan >> 16 <= 0xFFF, vlan & 0xFFFF <= 0xFFF else { throw StateDecodingError("saved VLAN \(vlan) is impossible") }
        return vlan
    }

    /// Reads back what `encode` wrote, checking every value; the reader must then be at its end.
    public mutating func restore(from reader: inout StateReader) throws {
        try entries.restore(from: &reader, minimumItemSize: 25) { reader in
            let key = BindingKey(address: try reader.address(), vlan: try Self.readVLAN(&reader))
            var entry = AddressBindings()
            let count = try reader.count(minimumItemSize: 26)
            guard count >= 1 && count <= Self.macsPerAddress else {
                throw StateDecodingError("saved bindings of \(key.address) hold \(count) MACs")
            }
            for _ in 0..<count {
                let mac = try Self.readMAC(&reader)
                let first = try reader.timestamp(), last = try reader.timestamp()
                let answered = try reader.optionalTimestamp()
                let how = BindingSources(rawValue: try reader.uint8())
                guard first <= last, answered.map({ $0 >= first && $0 <= last }) ?? true,
                      !how.isEmpty, BindingSources.all.isSuperset(of: how),
                      !entry.macs.contains(where: { $0.mac == mac })
                else { throw StateDecodingError("saved binding \(key.address) \(mac) is inconsistent") }
                entry.macs.append(MACBinding(mac: mac, firstSeen: first, lastSeen: last, lastAnswered: answered,
                                             learnedBy: how))
            }
            return (key, entry)
        }
        try carried.restore(from: &reader, minimumItemSize: 12) { reader in
            let mac = try Self.readMAC(&reader).value
            var members = WindowMembers<BindingKey>()
            let count = try reader.count(minimumItemSize: 29)
            guard count >= 1 && count <= Self.routerThreshold else {
                throw StateDecodingError("saved MAC carries \(count) addresses")
            }
            var sightings: [WindowMembers<BindingKey>.Sighting] = []
            for _ in 0..<count {
                let key = BindingKey(address: try reader.address(), vlan: try Self.readVLAN(&reader))
                guard !sightings.contains(where: { $0.member == key }) else {
                    throw StateDecodingError("saved MAC carries \(key.address) twice")
                }
                sightings.append(.init(member: key, time: try reader.timestamp()))
            }
            for s in sightings.sorted(by: { ($0.time, $0.member) < ($1.time, $1.member) }) {
                members.observe(s.member, at: s.time, window: nil, capacity: Self.routerThreshold + 1, whenFull: .refuseNew)
            }
            return (mac, members)
        }
        try routers.restore(from: &reader, minimumItemSize: 26) { reader in
            let mac = try Self.readMAC(&reader).value
            var mark = RouterMark()
            mark.since = try reader.timestamp()
            mark.lastActive = try reader.timestamp()
            mark.carriesOutside = try reader.bool()
            mark.carriesMany = try reader.bool()
            guard mark.since <= mark.lastActive, mark.carriesOutside || mark.carriesMany else {
                throw StateDecodingError("saved router mark is inconsistent")
            }
            return (mac, mark)
        }
        try requests.restore(from: &reader, minimumItemSize: 29) { reader in
            let key = BindingKey(address: try reader.address(), vlan: try Self.readVLAN(&reader))
            var seen = LastSeen()
            seen.lastActive = try reader.timestamp()
            return (key, seen)
        }
        try joiners.restore(from: &reader, minimumItemSize: 16) { reader in
            let mac = try Self.readMAC(&reader).value
            var seen = LastSeen()
            seen.lastActive = try reader.timestamp()
            return (mac, seen)
        }
    }
}
