// Live capture through libpcap on a real interface: a veth pair whose far end sits in a network namespace made
// for the test. Needs root (as CI runs); traffic goes only to the namespace's address.

import Foundation
import Glibc
import PacketCapture
import PacketDecoding
import Testing

/// A veth pair: `local` in this namespace with 10.199.X.1/24, the peer in a new namespace with 10.199.X.2/24.
final class VethPair {
    let namespace: String
    let local: String
    let localAddress: String
    let peerAddress: String

    init() throws {
        let id = Int(getpid()) % 10_000
        let subnet = Int.random(in: 1...250)
        namespace = "iwtest\(id)-\(subnet)"
        local = "iwt\(id)x\(subnet)"
        localAddress = "10.199.\(subnet).1"
        peerAddress = "10.199.\(subnet).2"
        let peer = "iwp\(id)x\(subnet)"
        try sh("ip netns add \(namespace)")
        try sh("ip link add \(local) type veth peer name \(peer)")
        try sh("ip link set \(peer) netns \(namespace)")
        try sh("ip addr add \(localAddress)/24 dev \(local)")
        try sh("ip link set \(local) up")
        try sh("ip -n \(namespace) addr add \(peerAddress)/24 dev \(peer)")
        try sh("ip -n \(namespace) link set \(peer) up")
        try sh("ip -n \(namespace) link set lo up")
    }

    deinit {
        try? sh("ip link del \(local)")
        try? sh("ip netns del \(namespace)")
    }
}

struct CommandError: Error, CustomStringConvertible { let description: String }

@discardableResult
func sh(_ command: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command + " 2>&1"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CommandError(description: "\(command): \(output)") }
    return output
}

/// Sends `count` UDP datagrams to `address:port` from this namespace.
func sendUDP(to address: String, port: UInt16, count: Int) throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw CommandError(description: "socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var destination = sockaddr_in()
    destination.sin_family = sa_family_t(AF_INET)
    destination.sin_port = port.bigEndian
    inet_pton(AF_INET, address, &destination.sin_addr)
    let payload = Array("idlewatch live test".utf8)
    for _ in 0..<count {
        let sent = withUnsafePointer(to: &destination) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == payload.count else { throw CommandError(description: "sendto: \(String(cString: strerror(errno)))") }
        usleep(20_000)
    }
}

@Suite("Live capture", .serialized, .enabled(if: geteuid() == 0, "needs root to create network namespaces"))
struct LiveCaptureTests {
    @Test("packets sent across a veth pair are captured, filtered, decoded and counted")
    func capturesOnVeth() throws {
        let veth = try VethPair()
        var options = LiveOptions()
        options.filter = "udp port 9 or icmp"
        options.immediate = true
        options.timeoutMilliseconds = 100
        options.snapshotLength = 128
        let live = try LiveSource(interface: veth.local, options: options)
        #expect(live.linkType == .ethernet)
        #expect(live.snapshotLength == 128)
        try sendUDP(to: veth.peerAddress, port: 9, count: 5)

        var udpToPeer = 0, unreachable = 0, other = 0
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && (udpToPeer < 5 || unreachable < 1) {
            guard case .packet(let packet) = try live.read() else { continue }
            let summary = PacketDecoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: packet.linkType)
            if summary.ipProtocol == IPProtocol.udp && summary.destinationPort == 9
                && summary.destination == IPAddress(veth.peerAddress) && summary.source == IPAddress(veth.localAddress)
            {
                udpToPeer += 1
                #expect(packet.capturedLength <= 128)
                #expect(packet.wireLength == 14 + 20 + 8 + 19)
            } else if summary.icmpType == 3 && summary.icmpCode == 3 && summary.quoted.destinationPort == 9 {
                unreachable += 1  // the peer has nothing on port 9 and says so
            } else {
                other += 1
            }
        }
        #expect(udpToPeer == 5)
        #expect(unreachable >= 1)
        #expect(other == 0, "the BPF filter lets only UDP port 9 and ICMP through")
        let statistics = try live.statistics()
        #expect(statistics.received >= 6)
        #expect(statistics.dropped == 0)
    }

    @Test("a missing interface fails with libpcap's reason")
    func missingInterface() {
        #expect {
            _ = try LiveSource(interface: "iwnosuch0")
        } throws: { error in
            let text = (error as? PcapError)?.description ?? ""
            return text.hasPrefix("iwnosuch0: cannot start capture") && text.contains("No such device")
        }
    }

    @Test("a bad filter fails with libpcap's compiler message")
    func badFilter() throws {
        let veth = try VethPair()
        var options = LiveOptions()
        options.filter = "udp prot 9"
        #expect {
            _ = try LiveSource(interface: veth.local, options: options)
        } throws: { error in
            ((error as? PcapError)?.message ?? "").contains("syntax error")
        }
    }

    @Test("interfaces are listed as tcpdump -D lists them")
    func listsInterfaces() throws {
        let veth = try VethPair()
        let names = try captureInterfaces().map(\.name)
        #expect(names.contains(veth.local))
        #expect(names.contains("lo"))
    }
}
