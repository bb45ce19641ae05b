// The hosts report: the inventory as the traffic shows it, read from a state file, with the sections a person can
// act on. Every "now" in it is the state's clock (the latest packet time analysed), not the wall clock, so a
// report on last month's replay reads as it would have then.

import Detection
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding

public struct HostsReport: Sendable {
    /// One MAC a host sent from, on one VLAN (`outer << 16 | inner`, 0 untagged).
    public struct Link: Sendable {
        public var vlan: UInt32
        public var binding: MACBinding
    }

    public struct Service: Sendable {
        public var port: UInt16
        public var ipProtocol: UInt8
        public var record: ServiceRecord

        public var label: String { "\(port)/\(ipProtocol == IPProtocol.udp ? "udp" : "tcp")" }
    }

    public struct Host: Sendable {
        public var record: HostRecord
        public var entry: InventoryEntry?
        public var services: [Service]
        /// Its MACs (the state's `hosts.macs` section), most recently seen first.
        public var links: [Link] = []
        /// The host sent something (an IP packet or an ARP frame), rather than only being addressed.
        public var talked: Bool { record.packetsSent > 0 || record.arpFrames > 0 }
    }

    /// An inventory entry declared active with no frame from any of its addresses for at least the threshold.
    public struct SilentEntry: Sendable {
        public var entry: InventoryEntry
        /// The last frame from any of its addresses; nil when none was ever seen.
        public var lastSeen: Timestamp?
        public var silentFor: Duration
    }

    public struct ExposedPort: Sendable {
        public var host: IPAddress
        public var entry: InventoryEntry?
        public var port: UInt16
        public var ipProtocol: UInt8
        /// The maintenance-port name from the site file; empty for an undeclared remote-administration port.
        public var name: String
        public var sources: [(address: IPAddress, record: ExposureRecord)]
    }

    public var observedFrom: Timestamp?
    public var observedTo: Timestamp?
    public var packetsAnalysed: UInt64
    public var silentThreshold: Duration
    /// Local hosts that sent something (and outside hosts too, when asked), by address.
    public var hosts: [Host] = []
    public var decommissionCandidates: [SilentEntry] = []
    public var unknownHosts: [Host] = []
    public var declaredQuietButTalked: [Host] = []
    public var exposures: [ExposedPort] = []
    public var localHostsSeen = 0
    public var outsideHostsSeen = 0
    /// Why the MAC bindings could not be read (a damaged section); nil when they were, or none were saved.
    public var linksProblem: String?
    /// Vendors of the MACs' blocks (set by the caller: `OUIRegistry.load(macs: report.macs)`); nil: no list.
    public var vendors: OUIRegistry?

    /// Every MAC in the report (for loading the vendors of only those).
    public var macs: [MACAddress] { (hosts + unknownHosts).flatMap { $0.links.map(\.binding.mac) } }

    public init(state: SavedState, inventory: [InventoryEntry], silentAfter: Duration, includeOutside: Bool) {
        observedFrom = state.learningStart
        observedTo = state.clock
        packetsAnalysed = state.packetsAnalysed
        silentThreshold = silentAfter
        let now = state.clock ?? .zero

        var servicesByHost: [IPAddress: [Service]] = [:]
        for (key, record) in state.services {
            servicesByHost[key.host, default: []].append(Service(port: key.port, ipProtocol: key.ipProtocol, record: record))
        }
        // The site model's lookup: the most specific entry covering an address wins.
        let site = Site(hosts: inventory)
        func entry(for address: IPAddress) -> InventoryEntry? { site.inventory(for: address) }
        var linksByHost: [IPAddress: [Link]] = [:]
        if let section = state.sectionsByName[DetectionEngine.linksSection] {
            do {
                var reader = try section.reader(upTo: MACBindings.sectionVersion)
                var links = MACBindings(capacity: Int.max)
                try links.restore(from: &reader)
                for (key, macs) in links.all {
                    linksByHost[key.address, default: []] += macs.map { Link(vlan: key.vlan, binding: $0) }
                }
            } catch {
                linksProblem = "section \(DetectionEngine.linksSection): \(error)"
            }
        }
        var all: [Host] = []
        for saved in state.hosts {
            let services = (servicesByHost[saved.record.address] ?? []).sorted {
                ($0.ipProtocol, $0.port) < ($1.ipProtocol, $1.port)
            }
            let links = (linksByHost[saved.record.address] ?? []).sorted {
                ($0.binding.lastSeen, $1.binding.mac, $1.vlan) > ($1.binding.lastSeen, $0.binding.mac, $0.vlan)
            }
            // As the sensor judges it: a declared MAC names its machine before the address does (the most recently
            // seen declared MAC on the address, if any).
            let byMAC = links.lazy.compactMap { site.inventoryIndex(forMAC: $0.binding.mac.value) }.first
            var host = Host(record: saved.record, entry: byMAC.map { inventory[$0] } ?? entry(for: saved.record.address),
                            services: services)
            host.links = links
            all.append(host)
        }
        all.sort { $0.record.address < $1.record.address }
        localHostsSeen = all.filter { $0.record.isLocal && $0.talked }.count
        outsideHostsSeen = all.filter { !$0.record.isLocal && $0.talked }.count
        hosts = all.filter { $0.talked && ($0.record.isLocal || includeOutside) }
        unknownHosts = all.filter { $0.talked && $0.record.isLocal && $0.entry == nil }
        declaredQuietButTalked = all.filter { $0.talked && ($0.entry?.state == .idle || $0.entry?.state == .decommissioned) }

        for item in inventory where item.state == .active {
            // Its addresses, and any address one of its declared MACs was bound to (a host declared by MAC alone
            // has only those).
            let members = all.filter { host in
                host.talked && (item.network?.contains(host.record.address) ?? false
                    || host.links.contains { item.macs.contains($0.binding.mac) })
            }
            let last = members.map(\.record.lastSeen).max()
            guard let since = last ?? observedFrom else { continue }
            let silence = now - since
            if silence >= silentAfter {
                decommissionCandidates.append(SilentEntry(entry: item, lastSeen: last, silentFor: silence))
            }
        }
        decommissionCandidates.sort { ($0.silentFor, $0.entry.name) > ($1.silentFor, $1.entry.name) }

        var grouped: [ExposureKey: [(IPAddress, ExposureRecord)]] = [:]
        for (key, record) in state.exposures {
            let port = ExposureKey(host: key.host, port: key.port, ipProtocol: key.ipProtocol, source: .unspecified)
            grouped[port, default: []].append((key.source, record))
        }
        for (key, sources) in grouped.sorted(by: { $0.key < $1.key }) {
            exposures.append(ExposedPort(
                host: key.host, entry: entry(for: key.host), port: key.port, ipProtocol: key.ipProtocol,
                name: sources.first?.1.name ?? "",
                sources: sources.sorted { ($0.1.expected ? 1 : 0, $0.0) < ($1.1.expected ? 1 : 0, $1.0) }
                    .map { (address: $0.0, record: $0.1) }))
        }
    }
}
