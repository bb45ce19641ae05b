// The syslog sink against a real rsyslogd (Debian's rsyslog, our own configuration): RFC 5424 through a unix
// socket, UDP and TCP parsed back field by field; RFC 3164 as rsyslog reads it; a TCP collector restarted mid-run
// losing nothing; a full queue and a collector that never comes back counted, not silent.

import Detection
import Foundation
import Glibc
import OutputSinks
import Testing

@Suite("Syslog sink", .enabled(if: RsyslogCollector.isAvailable, "rsyslogd is missing (install Debian's rsyslog)"))
struct SyslogSinkTests {
    /// Every message rsyslog wrote for our app, parsed strictly.
    func parsedLines(_ collector: RsyslogCollector, count: Int, sink: SyslogSink) throws -> [RFC5424Message] {
        try collector.waitForLines(count: count) { sink.tick() }.map(parseRFC5424)
    }

    func expectSameAlerts(_ messages: [RFC5424Message], _ alerts: [Alert], hostname: String,
                          sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(messages.count == alerts.count, sourceLocation: sourceLocation)
        for (message, alert) in zip(messages, alerts) {
            let severity: Int = switch alert.severity { case 1: 2; case 2: 4; default: 5 }
            #expect(message.priority == 16 * 8 + severity, sourceLocation: sourceLocation)
            #expect(message.version == 1, sourceLocation: sourceLocation)
            #expect(message.timestamp == alert.timestamp.rfc3339(fractionDigits: 6), sourceLocation: sourceLocation)
            #expect(message.hostname == hostname, sourceLocation: sourceLocation)
            #expect(message.appName == "idlewatch", sourceLocation: sourceLocation)
            #expect(message.procID == String(getpid()), sourceLocation: sourceLocation)
            #expect(message.msgID == alert.rule.rawValue, sourceLocation: sourceLocation)
            #expect(message.structuredData.count == 1, sourceLocation: sourceLocation)
            #expect(message.structuredData.first?.id == "idlewatch@32473", sourceLocation: sourceLocation)
            #expect(message.structuredData.first?.parameters == SyslogSamples.expectedParameters(alert),
                    sourceLocation: sourceLocation)
            #expect(message.message == AlertFormatter.text(alert), sourceLocation: sourceLocation)
            #expect(message.hasBOM == alert.message.unicodeScalars.contains { !$0.isASCII },
                    sourceLocation: sourceLocation)
        }
    }

    enum Transport: String, CaseIterable, CustomTestStringConvertible {
        case unix, udp, tcp

        var testDescription: String { rawValue }

        func destination(_ collector: RsyslogCollector) -> SyslogDestination {
            switch self {
            case .unix: .unix(path: collector.socketPath)
            case .udp: .udp(host: "127.0.0.1", port: collector.udpPort)
            case .tcp: .tcp(host: "127.0.0.1", port: collector.tcpPort)
            }
        }
    }

    @Test("RFC 5424 through rsyslog: every header field and SD parameter equals the alert's",
          arguments: Transport.allCases)
    func rfc5424(transport: Transport) throws {
        let collector = try RsyslogCollector()
        defer { collector.stop() }
        let sink = try SyslogSink(destination: transport.destination(collector), format: .rfc5424)
        let alerts = SyslogSamples.all
        for alert in alerts { sink.send(alert) }
        let messages = try parsedLines(collector, count: alerts.count, sink: sink)
        expectSameAlerts(messages, alerts, hostname: sink.formatter.hostname)
        let statistics = sink.close(waitingUpTo: 2)
        #expect(statistics.sent == 3 && statistics.lost == 0 && statistics.queued == 0, "\(statistics)")
    }

    @Test("RFC 3164 over UDP and over a default imuxsock socket: rsyslog reads the tag, pid, time and text")
    func rfc3164() throws {
        let collector = try RsyslogCollector()
        defer { collector.stop() }
        let network = try SyslogSink(destination: .udp(host: "127.0.0.1", port: collector.udpPort), format: .rfc3164)
        // Like /dev/log: rsyslog's special local parser, which takes the word after the time for the tag.
        let local = try SyslogSink(destination: .unix(path: collector.defaultSocketPath), format: .rfc3164,
                                   facility: .daemon)
        network.send(SyslogSamples.decommissioned)
        local.send(SyslogSamples.newService)
        let messages = try collector.waitForLines(count: 2) {
            network.tick()
            local.tick()
        }.map(parseRFC5424)
        try #require(messages.count == 2)
        let fromNetwork = try #require(messages.first { $0.priority == 132 })
        let fromLocal = try #require(messages.first { $0.priority == 3 * 8 + 5 })
        for (message, alert) in [(fromNetwork, SyslogSamples.decommissioned), (fromLocal, SyslogSamples.newService)] {
            #expect(message.appName == "idlewatch")
            #expect(message.procID == String(getpid()))
            #expect(message.msgID == "-")
            #expect(message.structuredData.isEmpty)
            // RFC 3164 puts a space after "TAG:"; rsyslog keeps it as the first character of the message.
            #expect(message.message == " " + AlertFormatter.text(alert))
        }
        // The year is rsyslog's guess and the zone local; the month, day and time are ours.
        #expect(fromNetwork.timestamp.dropFirst(5).hasPrefix("03-07T08:09:10"), "\(fromNetwork.timestamp)")
        #expect(fromNetwork.hostname == network.formatter.hostname)
        #expect(network.close(waitingUpTo: 1).lost == 0)
        #expect(local.close(waitingUpTo: 1).lost == 0)
    }

    @Test("TCP collector stopped and restarted on the same port: every alert arrives, in order, none dropped")
    func tcpRestart() throws {
        let collector = try RsyslogCollector()
        defer { collector.stop() }
        let sink = try SyslogSink(destination: .tcp(host: "127.0.0.1", port: collector.tcpPort), format: .rfc5424)
        for n in UInt64(1)...5 { sink.send(SyslogSamples.numbered(n)) }
        #expect(collector.waitForLines(count: 5) { sink.tick() }.count == 5)

        collector.stop()
        for n in UInt64(6)...10 {
            sink.send(SyslogSamples.numbered(n))
            sink.tick()
            usleep(50_000)
        }
        let whileDown = sink.statistics
        #expect(whileDown.queued == 5 && whileDown.sent == 5, "\(whileDown)")
        #expect(whileDown.lastError != nil)

        try collector.start()
        let lines = collector.waitForLines(count: 10, seconds: 8) { sink.tick() }
        let ids = try lines.map { line in
            try #require(try parseRFC5424(line).structuredData.first?["alert"])
        }
        #expect(ids == (1...10).map { String($0) })
        let statistics = sink.close(waitingUpTo: 2)
        #expect(statistics.sent == 10, "\(statistics)")
        #expect(statistics.droppedQueueFull == 0 && statistics.lost == 0, "\(statistics)")
        #expect(statistics.reconnects >= 1, "\(statistics)")
    }

    @Test("Queue of 3 with the collector down: the 2 oldest are dropped and counted, the 3 newest delivered")
    func tinyQueue() throws {
        let collector = try RsyslogCollector(start: false)
        defer { collector.stop() }
        let sink = try SyslogSink(destination: .tcp(host: "127.0.0.1", port: collector.tcpPort), format: .rfc5424,
                                  queueCapacity: 3)
        for n in UInt64(1)...5 { sink.send(SyslogSamples.numbered(n)) }
        let whileDown = sink.statistics
        #expect(whileDown.accepted == 5 && whileDown.queued == 3 && whileDown.droppedQueueFull == 2, "\(whileDown)")
        #expect(whileDown.lastError?.contains("queue full") == true)

        try collector.start()
        let lines = collector.waitForLines(count: 3, seconds: 8) { sink.tick() }
        let ids = try lines.map { try parseRFC5424($0).structuredData.first?["alert"] }
        #expect(ids == ["3", "4", "5"])
        let statistics = sink.close(waitingUpTo: 2)
        #expect(statistics.sent == 3 && statistics.droppedQueueFull == 2 && statistics.lost == 2, "\(statistics)")
        #expect(statistics.description.contains("2 lost (2 queue full"), "\(statistics)")
    }

    @Test("A unix socket that appears after the sink starts: messages wait, then arrive")
    func unixSocketLater() throws {
        let collector = try RsyslogCollector(start: false)
        defer { collector.stop() }
        let sink = try SyslogSink(destination: .unix(path: collector.socketPath), format: .rfc5424)
        sink.send(SyslogSamples.maintenance)
        sink.send(SyslogSamples.newService)
        #expect(sink.statistics.queued == 2)
        #expect(sink.statistics.lastError?.contains("No such file or directory") == true, "\(sink.statistics)")
        try collector.start()
        let messages = try parsedLines(collector, count: 2, sink: sink)
        expectSameAlerts(messages, [SyslogSamples.maintenance, SyslogSamples.newService],
                         hostname: sink.formatter.hostname)
        #expect(sink.close(waitingUpTo: 1).lost == 0)
    }
}

@Suite("Syslog sink without a collector")
struct SyslogSinkOfflineTests {
    @Test("A collector that never comes: close gives up in time and counts what it held as undeliverable")
    func undeliverableAtClose() throws {
        let port = try freePort(stream: true)
        let sink = try SyslogSink(destination: .tcp(host: "127.0.0.1", port: port), format: .rfc5424)
        sink.send(SyslogSamples.maintenance)
        sink.send(SyslogSamples.decommissioned)
        let started = Date()
        let statistics = sink.close(waitingUpTo: 0.3)
        #expect(Date().timeIntervalSince(started) < 1.5)
        #expect(statistics.sent == 0 && statistics.queued == 0 && statistics.undeliverable == 2, "\(statistics)")
        #expect(statistics.lastError?.contains("Connection refused") == true, "\(statistics)")
        sink.send(SyslogSamples.newService)
        let after = sink.statistics
        #expect(after.accepted == 3 && after.undeliverable == 3, "\(after)")
        #expect(after.accepted == after.sent + UInt64(after.queued) + after.lost)
    }

    @Test("A collector that does not read: send never blocks, partial writes resume, every frame arrives whole")
    func slowCollector() throws {
        let listener = try listenOnLoopback(receiveBuffer: 4096)
        defer { close(listener.descriptor) }
        let formatter = try SyslogFormatter(format: .rfc5424, hostname: "sensor1", processID: 4242)
        let sink = try SyslogSink(destination: .tcp(host: "127.0.0.1", port: listener.port), formatter: formatter)
        let connection = accept(listener.descriptor, nil, nil)
        try #require(connection >= 0)
        defer { close(connection) }

        // The collector reads nothing: the socket buffers fill (8 MB is more than Linux lets a loopback connection
        // hold), the rest waits in the queue, and send() still returns at once.
        let count: UInt64 = 2000
        let padding = " " + String(repeating: "x", count: 4000)
        func alert(_ n: UInt64) -> Alert {
            var alert = SyslogSamples.numbered(n)
            alert.message += padding
            return alert
        }
        var slowest = 0.0
        for n in 1...count {
            let started = Date()
            sink.send(alert(n))
            slowest = max(slowest, Date().timeIntervalSince(started))
        }
        let backedUp = sink.statistics
        #expect(backedUp.queued > 0 && backedUp.sent < count, "\(backedUp)")
        #expect(slowest < 0.1, "slowest send took \(slowest) s")

        // Now it reads: RFC 6587 frames, each message whole, once, in order.
        var stream: [UInt8] = []
        var frames: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(8)
        while frames.count < count && Date() < deadline {
            sink.tick()
            var entry = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let got = read(connection, &buffer, buffer.count)
            guard got > 0 else { break }
            stream += buffer[..<got]
            while let space = stream.firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: stream[..<space], as: UTF8.self)),
                  stream.count > space + length
            {
                frames.append(Array(stream[(space + 1)...(space + length)]))
                stream.removeFirst(space + 1 + length)
            }
        }
        #expect(frames.count == Int(count))
        let expected = (1...count).map { formatter.message(alert($0)) }
        let firstDifference = zip(frames, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "frame \(firstDifference ?? 0) differs")
        #expect(stream.count == 0, "\(stream.count) bytes after the last whole frame")
        let statistics = sink.close(waitingUpTo: 1)
        #expect(statistics.sent == count && statistics.lost == 0 && statistics.reconnects == 0, "\(statistics)")
    }

    @Test("A TCP collector that dies with our bytes unacknowledged: those messages go back to the queue and reach the next collector; only what its kernel acknowledged and it never read is lost")
    func tcpCollectorKilled() throws {
        let first = try listenOnLoopback(receiveBuffer: 4096)
        let formatter = try SyslogFormatter(format: .rfc5424, hostname: "sensor1", processID: 4242)
        let sink = try SyslogSink(destination: .tcp(host: "127.0.0.1", port: first.port), formatter: formatter)
        let connection = accept(first.descriptor, nil, nil)
        try #require(connection >= 0)
        // The collector reads nothing: its small receive buffer fills, the rest stays in our send buffer,
        // written (counted as sent) but never acknowledged.
        let count: UInt64 = 300
        for n in 1...count {
            sink.send(SyslogSamples.numbered(n))
            sink.tick()
        }
        usleep(200_000)
        sink.tick()
        let before = sink.statistics
        #expect(before.sent > 50, "\(before)")
        // What the dying collector's kernel acknowledged and holds unread: lost with it (the documented risk).
        var unread: Int32 = 0
        _ = ioctl(connection, UInt(0x541B) /* FIONREAD */, &unread)
        // Killed as by SIGKILL: its sockets close with unread data, so the kernel resets the connection.
        close(connection)
        close(first.descriptor)
        let second = try listenOnLoopback(receiveBuffer: 1 << 20, port: first.port)
        defer { close(second.descriptor) }

        var stream: [UInt8] = []
        var ids: [Int] = []
        var accepted: Int32 = -1
        let deadline = Date().addingTimeInterval(8)
        while ids.last != Int(count) && Date() < deadline {
            sink.tick()
            if accepted < 0 {
                var entry = pollfd(fd: second.descriptor, events: Int16(POLLIN), revents: 0)
                if poll(&entry, 1, 20) > 0 { accepted = accept(second.descriptor, nil, nil) }
                continue
            }
            var entry = pollfd(fd: accepted, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let got = read(accepted, &buffer, buffer.count)
            guard got > 0 else { break }
            stream += buffer[..<got]
            while let space = stream.firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: stream[..<space], as: UTF8.self)),
                  stream.count > space + length
            {
                let message = try parseRFC5424(String(decoding: stream[(space + 1)...(space + length)], as: UTF8.self))
                ids.append(Int(message.structuredData.first?["alert"] ?? "") ?? -1)
                stream.removeFirst(space + 1 + length)
            }
        }
        if accepted >= 0 { close(accepted) }
        // The messages wholly in the dead collector's receive buffer are the ones lost; every later one arrives, in
        // order, once.
        var wholeUnread = 0, offset = 0
        for n in 1...count {
            let frame = "\(formatter.message(SyslogSamples.numbered(n)).count) ".utf8.count + formatter.message(SyslogSamples.numbered(n)).count
            if offset + frame > Int(unread) { break }
            offset += frame
            wholeUnread += 1
        }
        #expect(ids == Array((wholeUnread + 1)...Int(count)), "unread \(unread) bytes: \(wholeUnread) whole messages; got \(ids.first ?? 0)...\(ids.last ?? 0) (\(ids.count))")
        let statistics = sink.close(waitingUpTo: 1)
        #expect(statistics.resent > 0 && statistics.reconnects == 1, "\(statistics)")
        #expect(statistics.accepted == statistics.sent + UInt64(statistics.queued) + statistics.lost, "\(statistics)")
        #expect(statistics.description.contains("resent after a broken connection (possible duplicates)"), "\(statistics)")
    }

    @Test("UDP to an IPv6 literal: one message per datagram, exactly the formatter's bytes",
          .enabled(if: FileManager.default.fileExists(atPath: "/proc/net/if_inet6"), "no IPv6"))
    func udpIPv6() throws {
        let receiver = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(receiver >= 0)
        defer { close(receiver) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, length) }
        }
        try #require(bound == 0)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(receiver, $0, &length) }
        }
        let destination = try SyslogDestination.parse("udp://[::1]:\(UInt16(bigEndian: address.sin6_port))")
        let formatter = try SyslogFormatter(format: .rfc5424, hostname: "sensor1", processID: 4242)
        let sink = try SyslogSink(destination: destination, formatter: formatter)
        sink.send(SyslogSamples.maintenance)
        sink.send(SyslogSamples.newService)
        var datagrams: [[UInt8]] = []
        for _ in 0..<2 {
            var entry = pollfd(fd: receiver, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 2000) > 0 else { break }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = recv(receiver, &buffer, buffer.count, 0)
            if count > 0 { datagrams.append(Array(buffer[..<count])) }
        }
        #expect(datagrams == [formatter.message(SyslogSamples.maintenance), formatter.message(SyslogSamples.newService)])
        #expect(sink.close(waitingUpTo: 1).sent == 2)
    }

    @Test("A unix socket of type SOCK_STREAM: the sink switches to stream and ends each message with NUL")
    func unixStream() throws {
        var template = Array("/tmp/idlewatch-stream.XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/log"
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0 && listen(listener, 4) == 0)

        let formatter = try SyslogFormatter(format: .rfc5424, hostname: "sensor1", processID: 4242)
        let sink = try SyslogSink(destination: .unix(path: path), formatter: formatter)
        sink.send(SyslogSamples.maintenance)
        sink.send(SyslogSamples.decommissioned)
        let connection = accept(listener, nil, nil)
        try #require(connection >= 0)
        defer { close(connection) }
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(3)
        while received.filter({ $0 == 0 }).count < 2 && Date() < deadline {
            sink.tick()
            var entry = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { break }
            received += buffer[..<count]
        }
        let expected = formatter.message(SyslogSamples.maintenance) + [0] + formatter.message(SyslogSamples.decommissioned)
            + [0]
        #expect(received == expected)
        #expect(sink.close(waitingUpTo: 1).sent == 2)
    }
}

/// A TCP listener on 127.0.0.1 at a free port (or `port`); `receiveBuffer` is inherited by accepted connections.
func listenOnLoopback(receiveBuffer: Int32, port: UInt16 = 0) throws -> (descriptor: Int32, port: UInt16) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw CollectorError.setup("socket: \(String(cString: strerror(errno)))") }
    var size = receiveBuffer
    setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    var reuse: Int32 = 1
    setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0, listen(descriptor, 4) == 0 else {
        close(descriptor)
        throw CollectorError.setup("bind/listen: \(String(cString: strerror(errno)))")
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return (descriptor, UInt16(bigEndian: address.sin_port))
}
