// The synthetic site: internal clients on /24 segments (some behind VLAN tags, half with IPv6), a row of internal
// servers, a DMZ, and an outside population whose popularity falls off with rank, as web and DNS traffic does.
// The scenario's hosts (a decommissioned server, an idle camera group, a vendor's maintenance mapping) are fixed
// addresses the site file written beside the capture declares.

import Glibc

struct Network {
    let clients: [Endpoint]
    /// Outside hosts; the first ones are the most popular servers. The last quarter are clients of the DMZ.
    let outside: [Endpoint]
    let gateway: Endpoint
    let resolver: Endpoint
    let collector: Endpoint
    let fileServers: [Endpoint]
    let intranetServers: [Endpoint]
    let bastions: [Endpoint]
    let dmz: [Endpoint]
    let outsideResolvers: [Endpoint]
    let timeServers: [Endpoint]
    // The scenario.
    let decommissioned: Endpoint
    let cameras: [Endpoint]
    let vendorTarget: Endpoint
    let vendor: Endpoint
    let attackers: [Endpoint]

    init(clients clientCount: Int, outside outsideCount: Int, seed: UInt64) {
        var clients: [Endpoint] = []
        clients.reserveCapacity(clientCount)
        for i in 0..<clientCount {
            let segment = i / 200
            let address = UInt32(10) << 24 | UInt32(2 + segment / 256) << 16 | UInt32(segment % 256) << 8 | UInt32(10 + i % 200)
            clients.append(Endpoint(
                ipv4: address,
                ipv6: i % 2 == 0 ? (0xfd00_0000_0000_0000 | UInt64(segment + 2), UInt64(i + 1)) : nil,
                mac: 0x0200_0100_0000 | UInt64(i),
                vlan: segment % 8 == 3 ? UInt16(100 + segment % 3000) : 0))
        }
        self.clients = clients
        var outside: [Endpoint] = []
        outside.reserveCapacity(outsideCount + 16)
        var generator = SeededGenerator(seed: seed ^ 0x6f75_7473_6964_6521)
        for j in 0..<outsideCount {
            outside.append(Endpoint(ipv4: Network.publicAddress(&generator),
                                    ipv6: j % 2 == 0 ? (0x2001_0db8_0000_0000 | UInt64(j), 1) : nil,
                                    mac: CaptureOutput.gatewayMAC, vlan: 0))
        }
        self.outside = outside
        func server(_ last: UInt32, third: UInt32 = 0) -> Endpoint {
            Endpoint(ipv4: 0x0a01_0000 | third << 8 | last, ipv6: (0xfd00_0000_0000_0001, UInt64(third << 8 | last)),
                     mac: 0x0200_0000_0000 | UInt64(third << 8 | last), vlan: 0)
        }
        func outsideHost(_ address: UInt32) -> Endpoint {
            Endpoint(ipv4: address, ipv6: nil, mac: CaptureOutput.gatewayMAC, vlan: 0)
        }
        gateway = Endpoint(ipv4: 0x0a01_0001, ipv6: nil, mac: CaptureOutput.gatewayMAC, vlan: 0)
        resolver = server(53)
        collector = server(200)
        fileServers = (100..<120).map { server($0) }
        intranetServers = (120..<130).map { server($0) }
        bastions = (130..<134).map { server($0) }
        dmz = (10..<15).map { server($0, third: 1) }
        outsideResolvers = [0x0808_0808, 0x0808_0404, 0x0101_0101, 0x0909_0909].map(outsideHost)
        timeServers = [0xd8ef_237b, 0x5f51_ad9e, 0xa27d_6a1d, 0x3389_be39].map(outsideHost)
        decommissioned = server(20, third: 250)
        cameras = (1..<15).map { server($0, third: 251) }
        vendorTarget = server(30)
        vendor = outsideHost(0xc633_6407)  // 198.51.100.7
        attackers = [0xb9dc_6521, 0x2d8e_7a0e, 0x5bc4_e10b].map(outsideHost)  // 185.220.101.33, 45.142.122.14, 91.196.225.11
    }

    /// Outside servers are all but the last quarter of the outside population.
    var outsideServerCount: Int { max(1, outside.count - outside.count / 4) }

    func outsideClient(_ generator: inout SeededGenerator) -> Endpoint {
        outside[outsideServerCount + generator.below(max(1, outside.count - outsideServerCount))]
    }

    /// A routable unicast IPv4 address outside private, shared, loopback, link-local, documentation, multicast and
    /// reserved space (so the site's local networks never contain it).
    static func publicAddress(_ generator: inout SeededGenerator) -> UInt32 {
        while true {
            let a = UInt32(truncatingIfNeeded: generator.next())
            if isPublic(a) { return a }
        }
    }

    static func isPublic(_ a: UInt32) -> Bool {
        let first = a >> 24
        if first == 0 || first == 10 || first == 127 || first >= 224 { return false }
        if a & 0xfff0_0000 == 0xac10_0000 || a & 0xffff_0000 == 0xc0a8_0000 || a & 0xffc0_0000 == 0x6440_0000 {
            return false
        }
        return a & 0xffff_0000 != 0xa9fe_0000 && a & 0xffff_ff00 != 0xc633_6400
    }

    /// The site file for this network: what an operator would have declared.
    var siteYAML: String {
        """
        # Written by idlewatch-synth beside the capture it describes.
        local_networks: [10.0.0.0/8, "fd00::/8"]
        hosts:
          - { address: 10.1.250.20, name: old-erp, state: decommissioned }
          - { address: 10.1.251.0/28, name: camera-platform, state: idle, allow: [arp, dhcp, ntp, dns] }
          - { address: 10.1.0.53, name: resolver, state: active }
        maintenance_ports:
          - { name: vendor-ssh, host: 10.1.0.30, port: 22, proto: tcp, allowed_sources: [198.51.100.0/24] }
        learning: { period: 1h, dormant_after: 12h }

        """
    }
}
