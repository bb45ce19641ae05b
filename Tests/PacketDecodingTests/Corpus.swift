// Real packets from the shared capture corpus (../shared/corpus, see its MANIFEST.tsv), as byte literals.
// Each was read from its pcap record as-is (`tcpdump -xx -r FILE` shows the same bytes); the corpus stays outside
// the repository, so the tests carry their own copies of the few packets they need.

enum Corpus {
    /// 802.1ad S-tag (VID 200) over 802.1Q C-tag (VID 2001), ARP request who-has 172.21.79.100 tell 172.21.79.97.
    /// From `tcpdump/802.1ad_QinQ.pcap`, packet 1; 64 bytes captured.
    static let qinqARPRequest = hex("""
        ffff ffff ffff 0020 d25a fb3f 88a8 00c8
        8100 07d1 0806 0001 0800 0604 0001 0020
        d25a fb3f ac15 4f61 0000 0000 0000 ac15
        4f64 0000 0000 0000 0000 0000 0000 0000
        """)

    /// The reply: 172.21.79.100 is-at 00:80:ea:81:88:63, same tag stack.
    /// From `tcpdump/802.1ad_QinQ.pcap`, packet 2; 64 bytes captured.
    static let qinqARPReply = hex("""
        0020 d25a fb3f 0080 ea81 8863 88a8 00c8
        8100 07d1 0806 0001 0800 0604 0002 0080
        ea81 8863 ac15 4f64 0020 d25a fb3f ac15
        4f61 0000 0000 0000 0000 0000 0000 0000
        """)

    /// Three 802.1Q tags (VIDs 30, 20, 10), TCP SYN 141.142.228.5:59856 > 192.150.187.43:80 with 20 bytes of options.
    /// From `zeek/vlan-qinqinq.pcap`, packet 1; 90 bytes captured.
    static let qinqinqTCPSYN = hex("""
        0010 db88 d2ef c8bc c896 d2a0 8100 001e
        8100 0014 8100 000a 0800 4500 0040 df8e
        4000 4006 6dd3 8d8e e405 c096 bb2b e9d0
        0050 fe21 323a 0000 0000 b002 ffff 3bc0
        0000 0204 05b4 0103 0304 0101 080a 164a
        dd20 0000 0000 0402 0000
        """)

    /// 802.3 frame (length field 3) with an LLC header: NetBEUI SABME.
    /// From `libpcap/filter__llc.pcap`, packet 2; 17 bytes captured.
    static let llcNetBEUI = hex("""
        000c 298e 87a6 000c 2931 0d01 0003 f0f0
        7f
        """)

    /// A bare Ethernet header with the unassigned EtherType 0xfbb7.
    /// From `suricata-verify/decode-unknown-1__input.pcap`, packet 1; 14 bytes captured.
    static let unknownEtherType = hex("""
        0000 0000 0003 9890 96a0 44ea fbb7
        """)

    /// TCP SYN-ACK 131.159.14.23:22 > 192.150.186.169:49244; 4 bytes follow the 60-byte IPv4 datagram.
    /// From `zeek/ssh__single-conn.pcap`, packet 2; 78 bytes captured.
    static let sshSYNACKWithTrailer = hex("""
        0014 5116 6e22 0012 7feb 3bc0 0800 4500
        003c 0000 4000 2c06 41c6 839f 0e17 c096
        baa9 0016 c05c e707 193d fa55 3be7 a012
        16a0 b137 0000 0204 05b4 0101 080a c04a
        c878 31c3 c4ac 0103 0302 bf10 884a
        """)

    /// TCP PSH-ACK carrying the 23-byte SSH banner; 4 bytes follow the IPv4 datagram.
    /// From `zeek/ssh__single-conn.pcap`, packet 4; 93 bytes captured.
    static let sshBannerWithTrailer = hex("""
        0014 5116 6e22 0012 7feb 3bc0 0800 4500
        004b d010 4000 2c06 71a6 839f 0e17 c096
        baa9 0016 c05c e707 193e fa55 3be7 8018
        05a8 803d 0000 0101 080a c04a c93a 31c3
        c4ad 5353 482d 312e 3939 2d4f 7065 6e53
        5348 5f33 2e39 7031 0aa0 58e0 ae
        """)

    /// TCP 10.0.0.2:6260 > 10.128.0.2:80 with FIN SYN RST PSH ACK URG ECE CWR all set.
    /// From `tcpdump/tcp_eight_lowest_weight_flags_set.pcap`, packet 1; 54 bytes captured.
    static let tcpAllLowFlags = hex("""
        4201 0af0 0001 4201 0af0 0017 0800 4500
        0028 8e4a 0000 4006 d802 0a00 0002 0a80
        0002 1874 0050 225c 2067 1cf8 2b1f 50ff
        0200 f4c3 0000
        """)

    /// TCP RST-ACK carrying 58 bytes of text, cut one byte short by the snapshot length.
    /// From `tcpdump/tcp_rst_data-trunc.pcap`, packet 1; 111 bytes captured of 112 on the wire.
    static let tcpRSTDataSnapped = hex("""
        0021 7067 6f50 0090 7f3e 02d0 0800 4520
        0062 2033 4000 f306 4ee3 c7cc 1f59 ac10
        8529 0050 ce8b 6063 e721 736f 1989 5014
        1699 8471 0000 4249 472d 4950 3a20 5b30
        7831 3163 3536 3732 3a33 3034 355d 207b
        7065 6572 7d20 5443 5020 5253 5420 6672
        6f6d 2072 656d 6f74 6520 7379 7374 65
        """)
    static let tcpRSTDataSnappedWireLength = 112

    /// UDP 192.0.2.1:40000 > 198.51.100.2:55555 in a 65535-byte datagram, captured only through the UDP header.
    /// From `zeek/udp-contents-truncated-oob.pcap`, packet 1; 42 bytes captured of 65549 on the wire.
    static let udpHugeSnapped = hex("""
        0200 0000 0002 0200 0000 0001 0800 4500
        ffff 1234 0000 4011 7c82 c000 0201 c633
        6402 9c40 d903 ffeb 0000
        """)
    static let udpHugeSnappedWireLength = 65549

    /// Linux SLL, sent by us (packet type 4): TCP SYN 131.155.215.69:46656 > 137.116.81.94:80, 20 bytes of options.
    /// From `tcpdump/tcp-handshake-nano.pcap`, packet 1; 76 bytes captured.
    static let sllTCPSYN = hex("""
        0004 0200 0000 0000 0000 0000 0000 0800
        4500 003c 29a9 4000 4006 db5f 839b d745
        8974 515e b640 0050 2f84 2acb 0000 0000
        a002 6a40 50c4 0000 0204 0550 0402 080a
        436a 0362 0000 0000 0103 0307
        """)

    /// Linux SLL: the SYN-ACK 137.116.81.94:80 > 131.155.215.69:46656.
    /// From `tcpdump/tcp-handshake-nano.pcap`, packet 2; 76 bytes captured.
    static let sllTCPSYNACK = hex("""
        0000 0200 0000 0000 0000 0000 0000 0800
        4500 003c 1c44 4000 7506 b3c4 8974 515e
        839b d745 0050 b640 b783 9f90 2f84 2acc
        a012 2000 8648 0000 0204 05a0 0103 0308
        0402 080a 0df5 af50 436a 0362
        """)

    /// Linux SLL, broadcast (packet type 1) from cc:2d:e0:26:19:99: ARP who-has 192.168.22.160 tell 192.168.22.1.
    /// From `zeek/linuxsll-arp.pcap`, packet 1; 62 bytes captured.
    static let sllARPRequest = hex("""
        0001 0001 0006 cc2d e026 1999 0000 0806
        0001 0800 0604 0001 cc2d e026 1999 c0a8
        1601 0000 0000 0000 c0a8 16a0 0000 0000
        0000 0000 0000 0000 0000 0000 0000
        """)

    /// Linux SLL2 on lo (ifindex 1, ARPHRD_LOOPBACK): ICMP echo request 192.0.2.1 > 192.0.2.1.
    /// From `zeek/linux_dlt_sll2.pcap`, packet 1; 104 bytes captured.
    static let sll2ICMPEcho = hex("""
        0800 0000 0000 0001 0304 0006 0000 0000
        0000 0000 4500 0054 af8c 4000 4001 071a
        c000 0201 c000 0201 0800 66b4 0008 0001
        e9bd f962 0000 0000 e24e 0d00 0000 0000
        1011 1213 1415 1617 1819 1a1b 1c1d 1e1f
        2021 2223 2425 2627 2829 2a2b 2c2d 2e2f
        3031 3233 3435 3637
        """)

    /// Linux SLL2 on lo: ICMPv6 echo request fe80::8c36:6ff:fe44:acaf to itself.
    /// From `zeek/linux_dlt_sll2.pcap`, packet 3; 124 bytes captured.
    static let sll2ICMPv6Echo = hex("""
        86dd 0000 0000 0001 0304 0006 0000 0000
        0000 0000 6005 c2e4 0040 3a40 fe80 0000
        0000 0000 8c36 06ff fe44 acaf fe80 0000
        0000 0000 8c36 06ff fe44 acaf 8000 a8d7
        0009 0001 f8bd f962 0000 0000 ab59 0100
        0000 0000 1011 1213 1415 1617 1819 1a1b
        1c1d 1e1f 2021 2223 2425 2627 2829 2a2b
        2c2d 2e2f 3031 3233 3435 3637
        """)

    /// LINKTYPE_NULL, AF_INET (2) little-endian: TCP RST-ACK 192.0.2.1:43018 > 192.168.0.1:8080 with 8 payload bytes, 2 cut by the snapshot length.
    /// From `tcpdump/tcp_rst_diag_payload-trunc.pcap`, packet 1; 50 bytes captured of 52 on the wire.
    static let nullTCPRSTSnapped = hex("""
        0200 0000 4500 0030 0000 0000 ff06 391d
        c000 0201 c0a8 0001 a80a 1f90 0000 0001
        eb8e fe0a 5014 0000 3f7f 0000 33aa 0001
        0000
        """)
    static let nullTCPRSTSnappedWireLength = 52

    /// LINKTYPE_NULL, AF_INET6 as Darwin numbers it (30) little-endian: UDP ::1:65165 > ::1:443.
    /// From `tcpdump/quic_handshake_truncated.pcap`, packet 6; 91 bytes captured.
    static let nullIPv6DarwinUDP = hex("""
        1e00 0000 6027 0e00 002f 1140 0000 0000
        0000 0000 0000 0000 0000 0001 0000 0000
        0000 0000 0000 0000 0000 0001 fe8d 01bb
        002f 0042 e200 0000 0108 beb2 5656 7ee5
        698c 0040 1607 dc4b d416 084a bc74 9c48
        8b1a 94e5 08b9 a18b f6b2 31
        """)

    /// Raw IPv4: UDP DNS query 192.168.1.100:12345 > 9.9.9.9:53 (also the payload of LINKTYPE_IPV4.pcap and LINKTYPE_IPV6_invalid.pcap).
    /// From `tcpdump/LINKTYPE_RAW_ipv4.pcap`, packet 1; 57 bytes captured.
    static let rawIPv4DNS = hex("""
        4500 0039 0001 0000 4011 a695 c0a8 0164
        0909 0909 3039 0035 0025 1976 1234 0100
        0001 0000 0000 0000 0765 7861 6d70 6c65
        0363 6f6d 0000 0100 01
        """)

    /// Raw IPv6: UDP DNS query [2001:db8::1]:12345 > [2620:fe::9]:53 (also the payload of LINKTYPE_IPV6.pcap and LINKTYPE_IPV4_invalid.pcap).
    /// From `tcpdump/LINKTYPE_RAW_ipv6.pcap`, packet 1; 77 bytes captured.
    static let rawIPv6DNS = hex("""
        6000 0000 0025 1140 2001 0db8 0000 0000
        0000 0000 0000 0001 2620 00fe 0000 0000
        0000 0000 0000 0009 3039 0035 0025 98b3
        1234 0100 0001 0000 0000 0000 0765 7861
        6d70 6c65 0363 6f6d 0000 0100 01
        """)

    /// 23 bytes under DLT_USER13 (160), a link type IdleWatch does not read.
    /// From `tcpdump/unsupported-link-type-160.pcap`, packet 1; 23 bytes captured.
    static let unsupportedLink160 = hex("""
        490c 6209 6923 34e8 efd3 a7bf 4ec0 fd3b
        43e0 0b2b 2b2b 2b
        """)

    /// ARP request who-has 10.20.30.40 tell 10.20.30.41 (08:00:27:e5:28:d1), unpadded 42-byte frame.
    /// From `libpcap/filter__gateway_or_not.pcap`, packet 9; 42 bytes captured.
    static let arpRequest = hex("""
        aa00 0400 140e 0800 27e5 28d1 0806 0001
        0800 0604 0001 0800 27e5 28d1 0a14 1e29
        0000 0000 0000 0a14 1e28
        """)

    /// ARP reply 10.20.30.40 is-at aa:00:04:00:14:0e to 10.20.30.41.
    /// From `libpcap/filter__gateway_or_not.pcap`, packet 11; 42 bytes captured.
    static let arpReply = hex("""
        0800 27e5 28d1 aa00 0400 140e 0806 0001
        0800 0604 0002 aa00 0400 140e 0a14 1e28
        0800 27e5 28d1 0a14 1e29
        """)

    /// Fuzzer case: an 802.1ad tag then ARP for hardware type 0x3030 with 14-byte hardware addresses.
    /// From `tcpdump/arp-too-long-tha.pcap`, packet 1; 64 bytes captured of 262144 on the wire.
    static let arpOddHardware = hex("""
        3030 3030 3030 3030 3030 3030 88a8 3030
        0806 3030 0800 0e04 0001 3030 3030 3030
        3030 3030 3030 3030 3030 3030 3030 3030
        3030 3030 3030 3030 3030 3030 3030 3030
        """)
    static let arpOddHardwareWireLength = 262144

    /// IPv4 with IHL 15 (Record Route, 40 option bytes): TCP RST-ACK 10.0.0.138:0 > 10.0.0.6:2693.
    /// From `PcapPlusPlus/ipv4-options.pcap`, packet 4; 94 bytes captured.
    static let ipv4RecordRouteTCPRST = hex("""
        0800 2719 1c78 c412 f5ff 72e8 0800 4f00
        0050 0000 4000 4006 ead8 0a00 008a 0a00
        0006 0727 1001 0203 040a 0000 8a0a 0000
        8a00 0000 0000 0000 0000 0000 0000 0000
        0000 0000 0000 0000 0000 0000 0a85 0000
        0000 1928 c73a 5014 0000 b059 0000
        """)

    /// IPv4 with IHL 6 (Router Alert): IGMPv3 query 10.0.0.138 > 224.0.0.1, padded to 60 bytes.
    /// From `PcapPlusPlus/ipv4-options.pcap`, packet 3; 60 bytes captured.
    static let ipv4RouterAlertIGMP = hex("""
        0100 5e00 0001 c412 f5ff 72e8 0800 4600
        0024 0000 4000 0102 fa48 0a00 008a e000
        0001 9404 0000 110a ec78 0000 0000 027d
        0000 0000 0000 0000 0000 0000
        """)

    /// ICMP echo request 10.20.30.41 > 10.20.30.40, id 7, seq 317, 56 data bytes.
    /// From `libpcap/filter__gateway_or_not.pcap`, packet 1; 98 bytes captured.
    static let icmpEchoRequest = hex("""
        aa00 0400 140e 0800 27e5 28d1 0800 4500
        0054 d200 4000 4001 1830 0a14 1e29 0a14
        1e28 0800 3fac 0007 013d fcf6 f468 0000
        0000 05dd 0100 0000 0000 1011 1213 1415
        1617 1819 1a1b 1c1d 1e1f 2021 2223 2425
        2627 2829 2a2b 2c2d 2e2f 3031 3233 3435
        3637
        """)

    /// ICMP port unreachable 192.168.10.31 > 192.168.10.10 quoting the refused DNS reply 192.168.10.10:53 > 192.168.10.31:52328.
    /// From `suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap`, packet 330; 114 bytes captured.
    static let icmpPortUnreachable = hex("""
        0800 2716 6659 0800 277f b58b 0800 4500
        0064 181c 0000 8001 8d03 c0a8 0a1f c0a8
        0a0a 0303 92bc 0000 0000 4500 0048 4cff
        4000 8011 182c c0a8 0a0a c0a8 0a1f 0035
        cc68 0034 7694 1b97 8182 0001 0000 0000
        0000 0864 6f77 6e6c 6f61 640d 7769 6e64
        6f77 7375 7064 6174 6503 636f 6d00 0001
        0001
        """)

    /// ICMP port unreachable 12.1.1.1 > 12.4.4.4 quoting the traceroute probe 12.4.4.4:42315 > 12.1.1.1:33441 (IP header + 8 bytes).
    /// From `tcpdump/mpls-traceroute.pcap`, packet 14, first 4 bytes (PPP header) removed; 56 bytes captured.
    static let icmpPortUnreachableTraceroute = hex("""
        4500 0038 c5a7 4000 fd01 9b13 0c01 0101
        0c04 0404 0303 d4fb 0000 0000 4500 0028
        a552 0000 0111 f769 0c04 0404 0c01 0101
        a54b 82a1 0014 0000
        """)

    /// First IPv4 fragment (MF, offset 0, id 242): UDP 164.1.123.163:123 > 164.1.123.61:137, padded to 60 bytes.
    /// From `zeek/ipv4__fragmented-1.pcap`, packet 1; 60 bytes captured.
    static let ipv4FirstFragmentUDP = hex("""
        0060 9712 2f58 0020 afba 7865 0800 4500
        0026 00f2 2000 4011 1af2 a401 7ba3 a401
        7b3d 007b 0089 0012 bfe2 0000 0000 0000
        0000 0000 0000 0000 0000 0000
        """)

    /// First IPv4 fragment (MF, offset 0, id 1) of a TCP SYN 192.168.1.100:12345 > 10.0.0.5:80 whose 40-byte header continues in the next fragment.
    /// From `zeek/ipv4__fragmented-syn.pcap`, packet 1; 58 bytes captured.
    static let ipv4FirstFragmentSplitSYN = hex("""
        1e0b 8b14 f6f9 98ee cbbd 07fe 0800 4500
        002c 0001 2000 4006 8eba c0a8 0164 0a00
        0005 3039 0050 0000 03e8 0000 0000 a002
        2000 c573 0000 0204 05b4
        """)

    /// The second fragment (offset 24, id 1): the rest of the SYN's options, no TCP header.
    /// From `zeek/ipv4__fragmented-syn.pcap`, packet 2; 50 bytes captured.
    static let ipv4LaterFragmentTCP = hex("""
        1e0b 8b14 f6f9 98ee cbbd 07fe 0800 4500
        0024 0001 0003 4006 aebf c0a8 0164 0a00
        0005 0402 080a 00bc 614e 0000 0000 0103
        0307
        """)

    /// IPv4 with IHL 4 (16 bytes).
    /// From `tcpdump/ipv4_invalid_hdr_length.pcap`, packet 1; 98 bytes captured.
    static let ipv4HeaderLength16 = hex("""
        c0d6 8236 032b f04d a23d 5da3 0800 4400
        0054 f1a6 0000 4011 4594 8cd3 09ce 2d21
        7f9c 98b7 0035 0040 6ecb 92aa 0120 0001
        0000 0000 0001 0377 7777 0774 6370 6475
        6d70 036f 7267 0000 0100 0100 0029 04d0
        0000 0000 000c 000a 0008 8bc0 e5f5 3e71
        3bbd
        """)

    /// IPv4 total length 85 in an 84-byte frame payload (not snapped: caplen == len).
    /// From `tcpdump/ipv4_invalid_total_length.pcap`, packet 1; 98 bytes captured.
    static let ipv4TotalLengthPastFrame = hex("""
        c0d6 8236 032b f04d a23d 5da3 0800 4500
        0055 f1a6 0000 4011 4593 8cd3 09ce 2d21
        7f9c 98b7 0035 0040 6ecb 92aa 0120 0001
        0000 0000 0001 0377 7777 0774 6370 6475
        6d70 036f 7267 0000 0100 0100 0029 04d0
        0000 0000 000c 000a 0008 8bc0 e5f5 3e71
        3bbd
        """)

    /// A frame that ends 19 bytes into the IPv4 header (caplen == len).
    /// From `tcpdump/ipv4_invalid_length.pcap`, packet 1; 33 bytes captured.
    static let ipv4NineteenBytes = hex("""
        c0d6 8236 032b f04d a23d 5da3 0800 4500
        0054 fc35 0000 4011 3b05 8cd3 09ce 2d21
        7f
        """)

    /// IPv4 total length 0.
    /// From `zeek/ip-bogus-header-len.pcap`, packet 1; 60 bytes captured.
    static let ipv4TotalLengthZero = hex("""
        0000 0000 0002 0000 0000 0001 0800 4503
        0000 252c 0000 0001 0001 76b5 90c2 88ff
        7374 6174 65ff 0000 00ff 0000 0000 0000
        0000 0000 0000 0000 0000 0000
        """)

    /// IPv4 with IHL 15, captured only through the fixed 20 bytes.
    /// From `zeek/trunc__ipv4-internally-truncated-header.pcap`, packet 1; 34 bytes captured of 134 on the wire.
    static let ipv4OptionsSnapped = hex("""
        d404 ffea c8f0 7831 c1c6 3fc2 0800 4f00
        0072 6dec 0000 4006 bc7e a3fd 30b7 c096
        bb2b
        """)
    static let ipv4OptionsSnappedWireLength = 134

    /// IPv4 header cut after 6 bytes by the snapshot length.
    /// From `zeek/trunc__ip4-trunc.pcap`, packet 1; 20 bytes captured of 46 on the wire.
    static let ipv4HeaderSnapped = hex("""
        0010 db88 d2ef c8bc c896 d2a0 0800 4500
        0020 0001
        """)
    static let ipv4HeaderSnappedWireLength = 46

    /// ICMP echo request 10.0.0.1 > 192.0.43.10 cut 6 bytes into the ICMP header.
    /// From `zeek/trunc__icmp-header-trunc.pcap`, packet 1; 40 bytes captured of 98 on the wire.
    static let icmpHeaderSnapped = hex("""
        0010 db88 d2ef 0000 0000 0000 0800 4500
        0054 59c4 0000 4001 2bda 0a00 0001 c000
        2b0a 0800 d9db 69df
        """)
    static let icmpHeaderSnappedWireLength = 98

    /// ICMPv6 echo request fd00:a1b2:c3d4:0:1020:3040:5060:7081 > fd00:e5f6::f3, id 12, seq 225.
    /// From `libpcap/filter__gateway_or_not.pcap`, packet 5; 118 bytes captured.
    static let icmpv6EchoRequest = hex("""
        aa00 0400 140e 0800 27e5 28d1 86dd 6008
        2e40 0040 3a40 fd00 a1b2 c3d4 0000 1020
        3040 5060 7081 fd00 e5f6 0000 0000 0000
        0000 0000 00f3 8000 797a 000c 00e1 fcf6
        f468 0000 0000 0536 0800 0000 0000 1011
        1213 1415 1617 1819 1a1b 1c1d 1e1f 2021
        2223 2425 2627 2829 2a2b 2c2d 2e2f 3031
        3233 3435 3637
        """)

    /// ICMPv6 destination unreachable (no route) quoting a TCP SYN [2001:db8:1:0:306e:739d:dea6:99a4]:54112 > [2001:16b8:4700:eb60:3a10:d5ff:fe4e:abe6]:443.
    /// From `suricata-verify/ipv6-evasion__ipv6-kill-router-gateway__kill_router6.pcap`, packet 2; 146 bytes captured.
    static let icmpv6RouteUnreachable = hex("""
        0c4d e9c5 74dc 6400 6a5b 8eb3 86dd 6008
        c04f 005c 3a40 2001 0db8 0001 0000 0000
        0000 0000 0003 2001 0db8 0001 0000 306e
        739d dea6 99a4 0100 2b0d 0000 0000 6001
        f552 002c 0640 2001 0db8 0001 0000 306e
        739d dea6 99a4 2001 16b8 4700 eb60 3a10
        d5ff fe4e abe6 d360 01bb c3ef 9f6b 0000
        0000 b002 ffff 0844 0000 0204 05a0 0103
        0306 0101 080a 263f 62a5 0000 0000 0402
        0000
        """)

    /// IPv6 hop-by-hop (8 bytes) then routing type 0 with two addresses (40 bytes), then UDP 53 > 53 with 3 data bytes.
    /// From `zeek/ipv6-hbh-routing0.pcap`, packet 1; 113 bytes captured.
    static let ipv6HopByHopRoutingUDP = hex("""
        ffff ffff ffff 0000 0000 0000 86dd 6000
        0000 003b 0040 2001 04f8 0004 0007 02e0
        81ff fe52 ffff 2001 04f8 0004 0007 02e0
        81ff fe52 9a6b 2b00 0104 0000 0000 1104
        0002 0000 0000 2001 0078 0001 0032 0000
        0000 0000 0001 2001 0078 0001 0032 0000
        0000 0000 0002 0035 0035 000b 8631 5858
        58
        """)

    /// IPv6 authentication header (payload length 3 = 20 bytes) in transport mode over UDP 12345 > 54321.
    /// From `libpcap/filter__ipv6_ah_modes.pcap`, packet 1; 112 bytes captured.
    static let ipv6AHUDP = hex("""
        aabb ccdd eeff 0011 2233 4455 86dd 6000
        0000 003a 3340 2001 0db8 0000 0000 0000
        0000 0000 0001 2001 0db8 0000 0000 0000
        0000 0000 0002 1103 0000 1234 5678 0000
        0000 0101 0101 0101 0101 3039 d431 0026
        3e99 4865 6c6c 6f2c 2074 6869 7320 6973
        2061 2074 6573 7420 7061 796c 6f61 6421
        """)

    /// A frame that ends 39 bytes into the IPv6 header (caplen == len).
    /// From `tcpdump/ipv6_invalid_length.pcap`, packet 1; 53 bytes captured.
    static let ipv6HeaderOnWire39 = hex("""
        c0d6 8236 032b f04d a23d 5da3 86dd 6009
        d8d8 0040 1140 2605 bc80 3010 0104 0000
        0000 8cd3 09ce 2600 3c00 e000 0019 0000
        0000 0000 00
        """)

    /// IPv6 header cut after 25 bytes by the snapshot length.
    /// From `tcpdump/ipv6_39_byte_header.pcap`, packet 1; 39 bytes captured of 118 on the wire.
    static let ipv6HeaderSnapped = hex("""
        c0d6 8236 032b f04d a23d 5da3 86dd 6007
        4111 0040 1140 2605 bc80 3010 0104 0000
        0000 8cd3 09ce 26
        """)
    static let ipv6HeaderSnappedWireLength = 118

    /// IPv6 payload length 20 (a hop-by-hop header announced) in a frame that ends after the fixed header (caplen == len).
    /// From `zeek/trunc__ip6-ext-trunc.pcap`, packet 1; 54 bytes captured.
    static let ipv6PayloadPastFrame = hex("""
        ffff ffff ffff 0000 0000 0000 86dd 6000
        0000 0014 0040 2001 04f8 0004 0007 02e0
        81ff fe52 ffff 2001 04f8 0004 0007 02e0
        81ff fe52 9a6b
        """)

    /// EtherType IPv6 but version nibble 0.
    /// From `tcpdump/ipv6-bad-version.pcap`, packet 2; 86 bytes captured.
    static let ipv6VersionZero = hex("""
        3333 0000 0001 2484 3feb 3cee 86dd 0000
        0000 0020 3aff fe80 0000 0000 0000 020c
        29ff fe76 6c14 ff02 0000 0000 0000 0000
        0000 0000 0001 8800 ab13 0000 0000 fe80
        0000 0000 0000 020c 29ff fe76 6c14 0201
        2484 3feb 3cee
        """)

    /// IPv6 atomic fragment (fragment header with offset 0, M=0, id 0; RFC 6946) carrying a TCP SYN [2001:db8:1::2]:59694 > [2001:db8:1::1]:80.
    /// From `zeek/ipv6-http-atomic-frag.pcap`, packet 13; 82 bytes captured.
    static let ipv6AtomicFragmentSYN = hex("""
        aa00 0400 0a04 0010 1895 316a 86dd 6000
        0000 001c 2c40 2001 0db8 0001 0000 0000
        0000 0000 0002 2001 0db8 0001 0000 0000
        0000 0000 0001 0600 0000 0000 0000 e92e
        0050 6981 7905 0000 0000 5002 2000 6866
        0000
        """)
}
