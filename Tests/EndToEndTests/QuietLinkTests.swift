// The live sensor on a quiet link (issue 15, item 8): an idle mirror port is the equipment this product watches, so
// time must pass there too. An unanswered scan on a veth, then silence: the host-scan alert comes when the attempts
// time out (30 s after the last SYN, plus the sensor clock's allowance and the loop's tick), not with the next
// packet, which never comes.

import Foundation
import Glibc
import Testing

extension TestLink {
    /// One SYN from here to each of `ports` of `address`, an address on the link that nobody owns (its neighbour
    /// entry made permanent here, so no ARP is needed): nothing answers. Each socket is closed while still
    /// connecting, which sends nothing (Linux sends neither a FIN nor a RST from SYN-SENT), so no retransmission
    /// follows either.
    func sendUnansweredSYNs(to address: String, ports: ClosedRange<Int>) {
        var descriptors: [Int32] = []
        for port in ports {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            withIPv4SocketAddress(address, port: port) { Int(connect(fd, $0, $1)) }  // EINPROGRESS: the SYN is out
            descriptors.append(fd)
        }
        usleep(100_000)
        for fd in descriptors { close(fd) }
    }
}

@Suite("idlewatch live on a quiet link", .serialized, .enabled(if: geteuid() == 0, "needs root for a veth pair and a namespace"))
struct QuietLinkTests {
    @Test("an unanswered scan, then silence: host-scan within the attempt timeout plus the clock's allowance, with the flows ended by their timeout, and no other packet", .timeLimit(.minutes(2)))
    func unansweredScanOnQuietLink() throws {
        let link = try TestLink()
        let silent = link.peerAddress.split(separator: ".").dropLast().joined(separator: ".") + ".3"
        try sh("ip neigh replace \(silent) lladdr 02:00:00:00:00:03 dev \(link.local) nud permanent")
        // The filter passes the scan's SYNs only: after them the sensor sees no packet at all (no IPv6 router
        // solicitations, no ARP), as on an idle mirror port. No --immediate-mode: the kernel's block timer applies,
        // as on a sensor run with the defaults.
        let live = try LiveProcess(["-i", link.local, "--format", "json", "--flows", "--stats-interval", "0",
                                    "--silent-after", "0", "--user", "root", "tcp and host \(silent)"])
        #expect(live.waitForError("capturing on \(link.local)"), "\(live.standardError)")
        usleep(300_000)
        link.sendUnansweredSYNs(to: silent, ports: 5000...5014)  // 15 ports: the port-scan threshold
        let lastSYN = Date().addingTimeInterval(-0.1)  // the sockets were closed 100 ms after the last SYN

        // Wait well past the attempt timeout (30 s); send nothing meanwhile.
        let deadline = lastSYN.addingTimeInterval(30 + 30)
        var seen: Date?
        while Date() < deadline && seen == nil {
            if live.standardOutput.contains("\"rule\":\"host-scan\"") { seen = Date() }
            usleep(50_000)
        }
        let output = live.standardOutput
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0, "\(live.standardError)")
        let seenAt = try #require(seen, "no host-scan within 60 s of the scan on a quiet link:\n\(output)\n\(live.standardError)")
        let delay = seenAt.timeIntervalSince(lastSYN)

        let events = try parseJSONLines(output)
        let scanLine = try #require(output.split(separator: "\n").first { $0.contains("\"rule\":\"host-scan\"") })
        let (stamp, _) = LiveSensorTests.splitTimestamp(String(scanLine))
        let stampedAfter = stamp - lastSYN.timeIntervalSince1970
        print("quiet link: host-scan written \(String(format: "%.2f", delay)) s after the last SYN, stamped \(String(format: "%.2f", stampedAfter)) s after it")
        // Not before the attempts timed out, and stamped when they did (the last SYN's stamp plus 30 s).
        #expect(delay >= 29.5, "written \(delay) s after the last SYN")
        #expect(abs(stampedAfter - 30) < 2, "stamped \(stampedAfter) s after the last SYN")
        // Every attempt ended by its timeout while the link was quiet, before the stop.
        let flows = events.filter { $0["event_type"] as? String == "flow" }
        #expect(flows.count == 15, "\(output)")
        #expect(flows.allSatisfy { (($0["flow"] as? [String: Any])?["reason"] as? String)?.contains("timeout") == true },
                "\(flows)")
        // The sensor saw the 15 SYNs and nothing else: no later packet moved the clock.
        let decoded = numbers(in: live.standardError, /final statistics: [^:]+: (\d+) packets decoded/)?.first
        #expect(decoded == 15, "\(live.standardError)")
    }
}
