// Community ID v1 against the specification's published test vectors (corelight/community-id-spec,
// baseline/README.md, seed 0 unless noted).

import OutputSinks
import PacketDecoding
import Testing

@Suite("Community ID")
struct CommunityIDTests {
    let a = IPAddress("1.2.3.4")!, b = IPAddress("5.6.7.8")!

    @Test func tcpBothDirections() {
        #expect(CommunityID.compute(source: a, sourcePort: 1122, destination: b, destinationPort: 3344, ipProtocol: 6)
            == "1:wCb3OG7yAFWelaUydu0D+125CLM=")
        #expect(CommunityID.compute(source: b, sourcePort: 3344, destination: a, destinationPort: 1122, ipProtocol: 6)
            == "1:wCb3OG7yAFWelaUydu0D+125CLM=")
    }

    @Test func udpAndSCTP() {
        #expect(CommunityID.compute(source: a, sourcePort: 1122, destination: b, destinationPort: 3344, ipProtocol: 17)
            == "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=")
        #expect(CommunityID.compute(source: a, sourcePort: 1122, destination: b, destinationPort: 3344, ipProtocol: 132)
            == "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=")
    }

    @Test func seedOne() {
        #expect(CommunityID.compute(source: a, sourcePort: 1122, destination: b, destinationPort: 3344, ipProtocol: 6,
                                    seed: 1) == "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=")
    }

    @Test("ICMP echo request and reply share an identifier; a one-way message keeps its direction")
    func icmp() {
        // Echo request 8/0 maps to ports (8, 0); the reply 0/0 maps to (0, 8).
        #expect(CommunityID.compute(source: a, sourcePort: 8, destination: b, destinationPort: 0, ipProtocol: 1)
            == "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=")
        #expect(CommunityID.compute(source: b, sourcePort: 0, destination: a, destinationPort: 8, ipProtocol: 1)
            == "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=")
        #expect(CommunityID.compute(source: a, sourcePort: 11, destination: b, destinationPort: 0, ipProtocol: 1,
                                    isOneWay: true) == "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=")
    }

    @Test func icmpv6() {
        let s = IPAddress("fe80:1:203:405:607:809:a0b:c0d")!, d = IPAddress("fe80:1011:1213:1415:1617:1819:1a1b:1c1d")!
        #expect(CommunityID.compute(source: s, sourcePort: 128, destination: d, destinationPort: 129, ipProtocol: 58)
            == "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=")
        #expect(CommunityID.compute(source: s, sourcePort: 146, destination: d, destinationPort: 0, ipProtocol: 58,
                                    isOneWay: true) == "1:fYC8+pz24E+EhANP1EZhpX0Dw10=")
    }

    @Test("protocols without ports hash addresses and protocol only")
    func rsvp() {
        #expect(CommunityID.compute(source: a, sourcePort: 0, destination: b, destinationPort: 0, ipProtocol: 46)
            == "1:ikv3kmf89luf73WPz1jOs49S768=")
    }
}
