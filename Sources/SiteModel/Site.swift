// The site model: what the site file says the network should look like. Built once by `SiteLoader` (which checks
// every key and reports errors with their line), then read by the detections.

import PacketDecoding

/// An IP network in CIDR notation; a bare address is a /32 (IPv4) or /128 (IPv6) network.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network address, host bits cleared.
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        let maximum = address.isIPv6 ? 128 : 32
        guard prefixLength >= 0 && prefixLength <= maximum else { return nil }
        self.prefixLength = prefixLength
        self.address = IPNetwork.mask(address, prefixLength)
    }

    /// Parses `10.0.0.0/8`, `fd00::/8`, or a single address. Host bits set in the address are an error (nil):
    /// `10.0.0.1/8` is almost always a typo for a host or for `10.0.0.0/8`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parts[0]) else { return nil }
        var prefix = address.isIPv6 ? 128 : 32
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(parts[1])
            else { return nil }
            prefix = value
        }
        guard let network = IPNetwork(address: address, prefixLength: prefix), network.address == address else {
            return nil
        }
        self = network
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.isIPv6 == address.isIPv6 && IPNetwork.mask(candidate, prefixLength) == address
    }

    public var description: String {
        prefixLength == (address.isIPv6 ? 128 : 32) ? address.description : "\(address)/\(prefixLength)"
    }

    static func mask(_ address: IPAddress, _ prefixLength: Int) -> IPAddress {
        if !address.isIPv6 {
            let bits = prefixLength == 0 ? UInt32(0) : UInt32.max << UInt32(32 - prefixLength)
            return IPAddress(ipv4: address.ipv4Value & bits)
        }
        let highBits = prefixLength >= 64 ? UInt64.max : (prefixLength == 0 ? 0 : UInt64.max << UInt64(64 - prefixLength))
        let lowBits = prefixLength <= 64 ? UInt64(0) : (prefixLength == 128 ? UInt64.max : UInt64.max << UInt64(128 - prefixLength))
        return IPAddress(ipv6High: address.high & highBits, low: address.low & lowBits)
    }
}

public enum TransportProtocol: String, Hashable, Sendable, CaseIterable {
    case tcp, udp

    public var number: UInt8 { self == .tcp ? IPProtocol.tcp : IPProtocol.udp }
}

/// A port and its transport protocol, written `22` (TCP), `22/tcp` or `623/udp`.
public struct PortSpec: Hashable, Sendable, CustomStringConvertible {
    public var port: UInt16
    public var transport: TransportProtocol

    public init(port: UInt16, transport: TransportProtocol = .tcp) {
        self.port = port
        self.transport = transport
    }

    public var description: String { transport == .tcp ? "\(port)" : "\(port)/\(transport.rawValue)" }
}

/// What the inventory says a host should be doing.
public enum HostState: String, Sendable, CaseIterable {
    /// Retired: any frame from it (ARP and DHCP included) is an alert.
    case decommissioned
    /// Powered on but should be quiet: anything beyond its `allow` list is an alert.
    case idle
    /// In service: watched for learned dormancy and new services only.
    case active
}

/// Background chatter an idle host may keep up without raising an alert.
public enum AllowedActivity: Hashable, Sendable, CustomStringConvertible {
    /// A named service: arp, dhcp, dns, ntp, icmp, mdns, llmnr, netbios, ssdp, igmp.
    case service(String)
    /// Traffic to or from this port, as client or server.
    case port(PortSpec)

    public var description: String {
        switch self {
        case .service(let name): name
        case .port(let spec): spec.description
        }
    }

    /// Service names and the ports that make them up (empty for protocols without ports).
    public static let services: [String: [PortSpec]] = [
        "arp": [],
        "icmp": [],
        "igmp": [],
        "dhcp": [PortSpec(port: 67, transport: .udp), PortSpec(port: 68, transport: .udp),
                 PortSpec(port: 546, transport: .udp), PortSpec(port: 547, transport: .udp)],
        "dns": [PortSpec(port: 53, transport: .udp), PortSpec(port: 53, transport: .tcp)],
        "ntp": [PortSpec(port: 123, transport: .udp)],
        "mdns": [PortSpec(port: 5353, transport: .udp)],
        "llmnr": [PortSpec(port: 5355, transport: .udp), PortSpec(port: 5355, transport: .tcp)],
        "netbios": [PortSpec(port: 137, transport: .udp), PortSpec(port: 138, transport: .udp)],
        "ssdp": [PortSpec(port: 1900, transport: .udp)],
    ]
}

public struct InventoryEntry: Sendable {
    /// One address or a range (a camera subnet, say); nil for a host declared by its MAC alone.
    public var network: IPNetwork?
    public var name: String
    public var state: HostState
    public var allow: [AllowedActivity]
    /// Line of the entry in the site file, for messages.
    public var line: Int
    /// The machine's MACs (`mac:`, one or a list). A frame sent from one of them is this host, whatever address
    /// it carries (IPv4 or IPv6, a new DHCP lease, a link-local address): a NIC moves less often than an address.
    /// On an entry with an address, the only MACs that address may answer from (address-takeover).
    public var macs: [MACAddress]

    public init(network: IPNetwork?, name: String, state: HostState, allow: [AllowedActivity] = [],
                macs: [MACAddress] = [], line: Int = 0) {
        self.network = network
        self.name = name
        self.state = state
        self.allow = allow
        self.macs = macs
        self.line = line
    }

    /// How the entry is declared, for reports and messages: its network, else its MACs.
    public var declared: String {
        network?.description ?? macs.map(\.description).joined(separator: ",")
    }
}

/// A weekly maintenance window in UTC, written `"Sat 01:00-05:00"`, `"Mon-Fri 22:00-02:00"` (past midnight:
/// the window ends the next day) or `"daily 03:00-04:00"`.
public struct MaintenanceWindow: Hashable, Sendable, CustomStringConvertible {
    /// Days the window starts on, 0 = Sunday ... 6 = Saturday.
    public var days: Set<Int>
    /// Minutes after midnight UTC.
    public var start: Int
    public var end: Int
    public var text: String

    public init(days: Set<Int>, start: Int, end: Int, text: String) {
        self.days = days
        self.start = start
        self.end = end
        self.text = text
    }

    public func contains(_ time: Timestamp) -> Bool {
        let civil = CivilTime(secondsSinceEpoch: time.seconds)
        let minute = Int(civil.hour * 60 + civil.minute)
        let weekday = Int(civil.weekday)
        if start < end {
            return days.contains(weekday) && minute >= start && minute < end
        }
        // Past midnight: the part after `start` on a listed day, or the part before `end` on the day after one.
        return (days.contains(weekday) && minute >= start) || (days.contains((weekday + 6) % 7) && minute < end)
    }

    public var description: String { text }
}

/// A declared maintenance access path: an internal service, optionally reachable through a port mapping.
public struct MaintenancePort: Sendable {
    public var name: String
    public var host: IPAddress
    public var port: UInt16
    public var transport: TransportProtocol
    /// The mapping as seen from outside (address:port on the site's public address), if there is one.
    public var externalAddress: IPAddress?
    public var externalPort: UInt16?
    /// Who may use it; empty means nobody from outside.
    public var allowedSources: [IPNetwork]
    /// When it may be used; empty means any time.
    public var windows: [MaintenanceWindow]
    /// Start of the first day after the `expires` date (UTC): from then on any use is unexpected.
    public var expiresAt: Timestamp?
    /// The mapping should not exist at all.
    public var closed: Bool
    public var line: Int

    public init(name: String, host: IPAddress, port: UInt16, transport: TransportProtocol = .tcp,
                externalAddress: IPAddress? = nil, externalPort: UInt16? = nil, allowedSources: [IPNetwork] = [],
                windows: [MaintenanceWindow] = [], expiresAt: Timestamp? = nil, closed: Bool = false, line: Int = 0) {
        self.name = name
        self.host = host
        self.port = port
        self.transport = transport
        self.externalAddress = externalAddress
        self.externalPort = externalPort
        self.allowedSources = allowedSources
        self.windows = windows
        self.expiresAt = expiresAt
        self.closed = closed
        self.line = line
    }
}

public struct LearningSettings: Sendable {
    /// How long after the first packet the sensor only learns (no new-service alerts).
    public var period: Duration
    /// Silence after which a host counts as dormant.
    public var dormantAfter: Duration

    public init(period: Duration = .seconds(24 * 3600), dormantAfter: Duration = .seconds(72 * 3600)) {
        self.period = period
        self.dormantAfter = dormantAfter
    }
}

public struct Site: Sendable {
    /// What counts as inside. Empty means the RFC 1918, RFC 4193 and link-local ranges.
    public var localNetworks: [IPNetwork] { didSet { localLookup = LocalLookup(localNetworks, publicAddresses) } }
    /// The site's own public (NAT) addresses: destinations of port mappings.
    public var publicAddresses: [IPAddress] { didSet { localLookup = LocalLookup(localNetworks, publicAddresses) } }
    /// `localNetworks` and `publicAddresses` indexed for `isLocal`, rebuilt whenever either changes.
    var localLookup: LocalLookup
    public var hosts: [InventoryEntry] {
        didSet {
            inventoryLookup = InventoryLookup(hosts)
            macLookup = Site.macLookup(hosts)
        }
    }
    /// `hosts` indexed for `inventoryIndex(for:)`, rebuilt whenever `hosts` changes.
    var inventoryLookup: InventoryLookup
    /// Declared MACs -> the first entry declaring each (the loader refuses a MAC declared twice).
    var macLookup: [UInt64: Int]
    public var maintenancePorts: [MaintenancePort]
    /// Remote-administration ports watched on every local host.
    public var remoteAdminPorts: [PortSpec]
    public var learning: LearningSettings
    /// The file it came from, for messages.
    public var path: String
    /// What `SiteLoader` accepted but the author may not have meant (in file order), for check-site and the start
    /// of a run to print.
    public var warnings: [SiteFileError.Problem] = []

    public init(localNetworks: [IPNetwork] = Site.privateNetworks, publicAddresses: [IPAddress] = [],
                hosts: [InventoryEntry] = [], maintenancePorts: [MaintenancePort] = [],
                remoteAdminPorts: [PortSpec] = Site.defaultRemoteAdminPorts, learning: LearningSettings = LearningSettings(),
                path: String = "") {
        self.localNetworks = localNetworks
        self.publicAddresses = publicAddresses
        localLookup = LocalLookup(localNetworks, publicAddresses)
        self.hosts = hosts
        inventoryLookup = InventoryLookup(hosts)
        macLookup = Site.macLookup(hosts)
        self.maintenancePorts = maintenancePorts
        self.remoteAdminPorts = remoteAdminPorts
        self.learning = learning
        self.path = path
    }

    /// RFC 1918, RFC 6598 shared space, RFC 4193 unique local, and link-local, v4 and v6.
    public static let privateNetworks: [IPNetwork] = [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10",
    ].map { IPNetwork($0)! }

    /// Remote administration and vendor support ports, used when the site file has no `remote_admin_ports`:
    /// FTP, SSH, Telnet, MS-RPC, NetBIOS session, SMB, SNMP, IPMI/RMCP, Telnet-alt (2323), RDP, VNC (5900-5901),
    /// WinRM, X11, TeamViewer, AnyDesk, Radmin, Dameware, PCAnywhere, iLO/iDRAC-style HTTPS on 17990/5986.
    public static let defaultRemoteAdminPorts: [PortSpec] = [
        PortSpec(port: 21), PortSpec(port: 22), PortSpec(port: 23), PortSpec(port: 135), PortSpec(port: 139),
        PortSpec(port: 445), PortSpec(port: 161, transport: .udp), PortSpec(port: 623, transport: .udp),
        PortSpec(port: 2323), PortSpec(port: 3389), PortSpec(port: 3389, transport: .udp), PortSpec(port: 5900),
        PortSpec(port: 5901), PortSpec(port: 5985), PortSpec(port: 5986), PortSpec(port: 6000),
        PortSpec(port: 5938), PortSpec(port: 7070), PortSpec(port: 4899), PortSpec(port: 6129), PortSpec(port: 5631),
        PortSpec(port: 5632, transport: .udp), PortSpec(port: 17990),
    ]

    /// Inside `localNetworks` or one of `publicAddresses`. Asked for both ends of every new flow (a flood asks per
    /// packet): one mask and one hash per distinct prefix length, not one comparison per network.
    public func isLocal(_ address: IPAddress) -> Bool {
        localLookup.contains(address)
    }

    /// The last address of one of the IPv4 `localNetworks` of length 30 or shorter: that subnet's directed broadcast
    /// (RFC 919, RFC 922), which names every host on it, never one. A /31 has no broadcast (RFC 3021) and a /32 is one
    /// host. Asked once per new flow end, one hash.
    public func isDirectedBroadcast(_ address: IPAddress) -> Bool {
        !address.isIPv6 && localLookup.broadcasts.contains(address)
    }

    /// Whether `address` can be a host of this site: not unspecified, loopback, multicast, the limited broadcast
    /// (`IPAddress.canBeHost`) or a directed broadcast of one of the local networks. The hosts stage makes no host
    /// for any other address, so no alert is ever about one.
    public func namesHost(_ address: IPAddress) -> Bool {
        address.canBeHost && !isDirectedBroadcast(address)
    }

    /// The most specific inventory entry covering `address` (a /32 entry wins over its subnet's).
    public func inventory(for address: IPAddress) -> InventoryEntry? {
        inventoryIndex(for: address).map { hosts[$0] }
    }

    /// Index in `hosts` of the most specific entry covering `address` (the first of equally specific ones).
    public func inventoryIndex(for address: IPAddress) -> Int? {
        inventoryLookup.index(for: address)
    }

    /// Whether any entry declares a MAC (so lookups by MAC are worth asking).
    public var declaresMACs: Bool { !macLookup.isEmpty }

    /// Index in `hosts` of the entry declaring `mac` (the decoder's 48-bit value; 0, no link layer, is no one's).
    public func inventoryIndex(forMAC mac: UInt64) -> Int? {
        macLookup.isEmpty || mac == 0 ? nil : macLookup[mac]
    }

    /// The entry for a host that sent from `mac` with `address`: the one declaring the MAC, else the most specific
    /// one covering the address. The MAC wins: it names the machine, where an address names whoever holds it now
    /// (a decommissioned server's MAC on an address since given to another entry is still that server talking).
    public func inventoryIndex(for address: IPAddress, mac: UInt64) -> Int? {
        inventoryIndex(forMAC: mac) ?? inventoryIndex(for: address)
    }

    static func macLookup(_ hosts: [InventoryEntry]) -> [UInt64: Int] {
        var lookup: [UInt64: Int] = [:]
        for (index, entry) in hosts.enumerated() {
            for mac in entry.macs where lookup[mac.value] == nil { lookup[mac.value] = index }
        }
        return lookup
    }
}

/// The inventory's entries by address, asked once per new host (a flood of forged sources asks once per packet): one
/// dictionary per prefix length in use, asked from the longest prefix down, so a lookup costs one mask and one hash
/// per distinct prefix length (a handful) whatever the inventory's size. A walk over every entry cost a site with
/// 5,000 named hosts and 100 subnets 5,100 network comparisons per new address (a SYN flood ran 9 times slower).
struct InventoryLookup: Sendable {
    struct Level: Sendable {
        var prefixLength: Int
        var isIPv6: Bool
        /// Network address -> the first entry's index with that network.
        var entries: [IPAddress: Int] = [:]
    }
    /// Longest prefix first.
    var levels: [Level] = []

    init(_ hosts: [InventoryEntry]) {
        for (index, entry) in hosts.enumerated() {
            guard let network = entry.network else { continue }
            var level = levels.firstIndex { $0.prefixLength == network.prefixLength && $0.isIPv6 == network.address.isIPv6 }
            if level == nil {
                levels.append(Level(prefixLength: network.prefixLength, isIPv6: network.address.isIPv6))
                level = levels.count - 1
            }
            if levels[level!].entries[network.address] == nil { levels[level!].entries[network.address] = index }
        }
        levels.sort { $0.prefixLength > $1.prefixLength }
    }

    /// Two networks of one length and family that both contain an address are the same network, so the first level
    /// with a match holds the most specific entry, and within it the first in the file.
    func index(for address: IPAddress) -> Int? {
        for level in levels where level.isIPv6 == address.isIPv6 {
            if let index = level.entries[IPNetwork.mask(address, level.prefixLength)] { return index }
        }
        return nil
    }
}

/// What counts as inside, by address, for `Site.isLocal`: the same per-prefix-length sets as `InventoryLookup`, the
/// public addresses as /32 and /128 networks. A walk over the list cost a site with 5,001 local networks 5,001
/// comparisons per new flow end (a SYN flood ran 11 times slower). A short list (the private ranges, a few site
/// networks) is still walked: a handful of masks and compares costs less than hashing at each prefix length, and a
/// flood asks for every packet.
struct LocalLookup: Sendable {
    struct Level: Sendable {
        var prefixLength: Int
        var isIPv6: Bool
        var networks: Set<IPAddress> = []
    }
    /// Up to this many networks and addresses are walked rather than hashed.
    static let walkedAtMost = 16
    /// The networks, when there are few enough to walk.
    var walked: [IPNetwork] = []
    /// Longest prefix first (any order would do: membership, not the most specific match, is asked); empty when
    /// `walked` is used.
    var levels: [Level] = []
    /// The directed broadcast address of each IPv4 network of length 30 or shorter (public addresses are single
    /// hosts, not networks).
    var broadcasts: Set<IPAddress> = []

    init(_ networks: [IPNetwork], _ publicAddresses: [IPAddress]) {
        for network in networks where !network.address.isIPv6 && network.prefixLength <= 30 {
            let hostBits = UInt32.max >> UInt32(network.prefixLength)
            broadcasts.insert(IPAddress(ipv4: network.address.ipv4Value | hostBits))
        }
        let all = networks + publicAddresses.map { IPNetwork(address: $0, prefixLength: $0.isIPv6 ? 128 : 32)! }
        guard all.count > LocalLookup.walkedAtMost else {
            walked = all
            return
        }
        for network in all {
            let isIPv6 = network.address.isIPv6
            if let level = levels.firstIndex(where: { $0.prefixLength == network.prefixLength && $0.isIPv6 == isIPv6 }) {
                levels[level].networks.insert(network.address)
            } else {
                levels.append(Level(prefixLength: network.prefixLength, isIPv6: isIPv6, networks: [network.address]))
            }
        }
        levels.sort { $0.prefixLength > $1.prefixLength }
    }

    func contains(_ address: IPAddress) -> Bool {
        if levels.isEmpty { return walked.contains { $0.contains(address) } }
        for level in levels where level.isIPv6 == address.isIPv6 {
            if level.networks.contains(IPNetwork.mask(address, level.prefixLength)) { return true }
        }
        return false
    }
}
