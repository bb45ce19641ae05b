// Hosts declared by MAC: `mac:` beside an address, or alone, one MAC or a list; what is refused and why.

import PacketDecoding
import SiteModel
import Testing

@Suite struct SiteMACTests {
    @Test("a host declared by its MAC alone, one by address and MACs; lookups by MAC and by address")
    func declaredMACs() throws {
        let site = try SiteLoader.parse("""
            hosts:
              - { mac: 00:11:22:33:44:55, name: old-erp, state: decommissioned }
              - { address: 10.0.5.20, mac: [00:1A:2B:3C:4D:5E, "00-1a-2b-3c-4d-5f"], name: files, state: idle }
              - { address: 10.0.5.21, name: printer, state: active }
            """, path: "t.yaml")
        #expect(site.hosts.count == 3)
        #expect(site.hosts[0].network == nil && site.hosts[0].macs == [MACAddress("00:11:22:33:44:55")!])
        #expect(site.hosts[0].declared == "00:11:22:33:44:55")
        #expect(site.hosts[1].macs.map(\.description) == ["00:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5f"])
        #expect(site.declaresMACs)
        #expect(site.inventoryIndex(forMAC: 0x0011_2233_4455) == 0)
        #expect(site.inventoryIndex(forMAC: 0x001a_2b3c_4d5f) == 1)
        #expect(site.inventoryIndex(forMAC: 0) == nil)
        // The MAC names the machine: it wins over the address's entry.
        #expect(site.inventoryIndex(for: IPAddress("10.0.5.21")!, mac: 0x0011_2233_4455) == 0)
        #expect(site.inventoryIndex(for: IPAddress("10.0.5.21")!, mac: 0x0099_0000_0001) == 2)
        #expect(site.inventoryIndex(for: IPAddress("fe80::211:22ff:fe33:4455")!, mac: 0x0011_2233_4455) == 0)
        // A MAC-only entry covers no address.
        #expect(site.inventoryIndex(for: IPAddress("10.0.5.99")!) == nil)
        #expect(!Site().declaresMACs)
    }

    @Test("bad MACs, group MACs, a MAC on a network, a MAC declared twice, no address and no MAC: each named")
    func refused() {
        #expect(problem("hosts:\n  - { mac: 00:11:22:33:44, name: a, state: idle }")
            == "t.yaml:2:12: hosts[0].mac: '00:11:22:33:44' is not a MAC address (six hex bytes: 00:11:22:33:44:55)")
        #expect(problem("hosts:\n  - { mac: ff:ff:ff:ff:ff:ff, name: a, state: idle }")
            == "t.yaml:2:12: hosts[0].mac: ff:ff:ff:ff:ff:ff is a group (broadcast or multicast) MAC: no one machine sends from it")
        #expect(problem("hosts:\n  - { mac: 01:00:5e:00:00:01, name: a, state: idle }").contains("is a group"))
        #expect(problem("hosts:\n  - { mac: 00:00:00:00:00:00, name: a, state: idle }")
            == "t.yaml:2:12: hosts[0].mac: 00:00:00:00:00:00 is no machine's MAC")
        #expect(problem("hosts:\n  - { address: 10.0.7.0/28, mac: 00:11:22:33:44:55, name: cams, state: idle }")
            .contains("hosts[0].mac: 10.0.7.0/28 is a network: a MAC names one machine"))
        #expect(problem("hosts:\n  - { mac: 00:11:22:33:44:55, name: a, state: idle }\n  - { mac: [00:11:22:33:44:55], name: b, state: idle }")
            == "t.yaml:3:12: hosts[1].mac: 00:11:22:33:44:55 is already declared by hosts[0] (line 2): one machine, one entry")
        #expect(problem("hosts:\n  - { name: a, state: idle }").contains("hosts[0].address: missing (required)"))
        #expect(problem("hosts:\n  - { name: a, state: idle }").contains("or declare the host by its mac"))
    }

    @Test("a locally administered MAC loads, with a warning that it may change; a repeat is warned")
    func warned() throws {
        let found = try warnings("hosts:\n  - { mac: [da:a1:19:00:00:01, da:a1:19:00:00:01], name: phone, state: idle }")
        #expect(found.count == 2)
        #expect(found.contains { $0.contains("da:a1:19:00:00:01 is locally administered") })
        #expect(found.contains { $0.contains("da:a1:19:00:00:01 is listed twice") })
    }
}
