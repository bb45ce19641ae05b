// One packet stamped far in the future (issue 14): a single record stamped 2106 (a 32-bit seconds field of all
// ones) must not carry the clock with it: not the state file's resume point (the next replay skipping everything),
// not the save schedule, not the flows. It is counted and not analysed; a capture that genuinely jumps forward is
// followed (see Sources/Sensor/PacketClock.swift).

import Foundation
import GRDB
import PacketCapture
import PacketDecoding
import Sensor
import SiteModel
import StateStore
import Testing

@Suite("Packet time: a far-future stamp is an outlier, a jump forward is followed", .serialized)
struct PacketTimeTests {
    static let sampleSite = TestPaths.captures.appendingPathComponent("site.yaml").path
    /// 2106-02-07T06:28:15Z: the largest time a pcap record's 32-bit seconds can hold.
    static let farFuture = Timestamp(seconds: Int64(UInt32.max))

    typealias Packet = (time: Timestamp, bytes: [UInt8], wireLength: Int)

    /// The sample captures' packets in replay order.
    static func samplePackets() -> [Packet] {
        struct Collector: PacketHandler {
            var packets: [Packet] = []
            mutating func handle(_ packet: CapturedPacket) {
                packets.append((packet.timestamp, Array(packet.bytes), packet.wireLength))
            }
        }
        var collector = Collector()
        ReplaySource(paths: [TestPaths.captures.path]).run(&collector)
        return collector.packets
    }

    static func write(_ packets: [Packet], to path: String) throws {
        let writer = try CaptureWriter(path: path, linkType: .ethernet)
        for packet in packets {
            packet.bytes.withUnsafeBytes { writer.write(timestamp: packet.time, bytes: $0, wireLength: packet.wireLength) }
        }
        try writer.flush()
    }

    /// `packets` with a copy of packet `index` stamped `time` inserted after it.
    static func withStray(_ packets: [Packet], after index: Int, at time: Timestamp) -> [Packet] {
        var result = packets
        result.insert((time, packets[index].bytes, packets[index].wireLength), at: index + 1)
        return result
    }

    static func metaClock(_ path: String) throws -> Int64? {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: path, configuration: configuration).read { db in
            try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'clock'")
        }
    }

    static func saves(_ standardError: String) -> Int? {
        (standardError.firstMatch(of: /state: saved (\d+) times?/)?.1).flatMap { Int($0) }
    }

    @Test("one packet stamped 2106 among normal ones: counted, not analysed, the clock stays; the next replay with the state analyses its packets")
    func strayAmongNormal() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let packets = Self.samplePackets()
        #expect(packets.count > 400)
        let part1 = directory.appendingPathComponent("part1.pcap").path
        let stray1 = directory.appendingPathComponent("part1-stray.pcap").path
        let part2 = directory.appendingPathComponent("part2.pcap").path
        try Self.write(Array(packets[..<300]), to: part1)
        try Self.write(Self.withStray(Array(packets[..<300]), after: 150, at: Self.farFuture), to: stray1)
        try Self.write(Array(packets[300...]), to: part2)

        let clean = directory.appendingPathComponent("clean.db").path
        let cleanFirst = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", clean, part1])
        let cleanClock = try Self.metaClock(clean)
        let cleanSecond = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", clean, part2])
        #expect(cleanFirst.status == 0 && cleanSecond.status == 0)
        #expect(!cleanSecond.outputLines.isEmpty, "part 2 should raise alerts")

        let state = directory.appendingPathComponent("stray.db").path
        let first = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", state, stray1])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardError.contains("timestamps: 1 packet stamped more than a day ahead of the packets around it, "
            + "not analysed (the first stamped 2106-02-07T06:28:15.000000Z"), "\(first.standardError)")
        // The stray changed nothing: the same alerts as without it, and the same resume point.
        #expect(first.standardOutput == cleanFirst.standardOutput)
        #expect(try Self.metaClock(state) == cleanClock)
        let clock = try #require(try Self.metaClock(state))
        #expect(clock < Self.farFuture.nanoseconds)

        let second = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", state, part2])
        #expect(second.status == 0, "\(second.standardError)")
        #expect(!second.standardError.contains("skipped"), "\(second.standardError)")
        #expect(second.standardError.contains("idlewatch: 1 file, \(packets.count - 300) packets"), "\(second.standardError)")
        #expect(second.standardOutput == cleanSecond.standardOutput)
    }

    @Test("a stray stamp as the first or the last packet of a replay is counted and not analysed")
    func strayFirstOrLast() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let packets = Self.samplePackets()
        let plain = directory.appendingPathComponent("plain.pcap").path
        try Self.write(packets, to: plain)
        // With a state file, as the runs below: open flows are saved, not ended.
        let reference = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state",
                                          directory.appendingPathComponent("plain.db").path, plain])
        #expect(reference.status == 0)
        #expect(!reference.standardError.contains("timestamps:"), "the sample captures have no outlier: \(reference.standardError)")

        var first = packets
        first.insert((Self.farFuture, packets[0].bytes, packets[0].wireLength), at: 0)
        var last = packets
        last.append((Self.farFuture, packets[10].bytes, packets[10].wireLength))
        for (name, input) in [("first", first), ("last", last)] {
            let path = directory.appendingPathComponent("\(name).pcap").path
            try Self.write(input, to: path)
            let state = directory.appendingPathComponent("\(name).db").path
            let run = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", state, path])
            #expect(run.status == 0, "\(name): \(run.standardError)")
            #expect(run.standardError.contains("timestamps: 1 packet stamped more than a day ahead"), "\(name): \(run.standardError)")
            #expect(run.standardOutput == reference.standardOutput, "\(name): the alerts changed")
            let clock = try Self.metaClock(state)
            #expect(clock == packets.map(\.time.nanoseconds).max(), "\(name): the clock moved")
        }
    }

    @Test("a capture that jumps forward (a second part a week later) is followed, in one run and across two")
    func sustainedJump() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let packets = Self.samplePackets()
        let week = Duration.seconds(8 * 86_400)
        let later: [Packet] = packets[300...].map { ($0.time + week, $0.bytes, $0.wireLength) }
        let whole = directory.appendingPathComponent("whole.pcap").path
        let part1 = directory.appendingPathComponent("part1.pcap").path
        let part2 = directory.appendingPathComponent("part2-later.pcap").path
        try Self.write(Array(packets[..<300]) + later, to: whole)
        try Self.write(Array(packets[..<300]), to: part1)
        try Self.write(later, to: part2)

        let one = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state",
                                    directory.appendingPathComponent("one.db").path, whole])
        #expect(one.status == 0)
        #expect(!one.standardError.contains("timestamps:"), "\(one.standardError)")
        #expect(one.standardError.contains("idlewatch: 1 file, \(packets.count) packets"), "\(one.standardError)")

        let state = directory.appendingPathComponent("two.db").path
        let first = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", state, part1])
        let second = try runIdleWatch(["replay", "--site", Self.sampleSite, "--state", state, part2])
        #expect(first.status == 0 && second.status == 0)
        #expect(!second.standardError.contains("timestamps:") && !second.standardError.contains("skipped"), "\(second.standardError)")
        #expect(second.standardError.contains("idlewatch: 1 file, \(later.count) packets"), "\(second.standardError)")
        #expect(first.standardOutput + second.standardOutput == one.standardOutput)
        #expect(try Self.metaClock(state) == later.map(\.time.nanoseconds).max())
    }

    @Test("the replay's save schedule is not moved by a stray stamp: as many saves as without it")
    func saveScheduleKept() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let packets = Self.samplePackets()
        let plain = directory.appendingPathComponent("plain.pcap").path
        let stray = directory.appendingPathComponent("stray.pcap").path
        try Self.write(packets, to: plain)
        try Self.write(Self.withStray(packets, after: 20, at: Self.farFuture), to: stray)
        let arguments = ["replay", "--site", Self.sampleSite, "--save-interval", "3600"]
        let reference = try runIdleWatch(arguments + ["--state", directory.appendingPathComponent("plain.db").path, plain])
        let run = try runIdleWatch(arguments + ["--state", directory.appendingPathComponent("stray.db").path, stray])
        #expect(run.status == 0 && reference.status == 0)
        let expected = try #require(Self.saves(reference.standardError))
        #expect(expected > 10, "the sample captures span days: many hourly saves")
        #expect(Self.saves(run.standardError) == expected, "\(run.standardError)")
        #expect(run.standardOutput == reference.standardOutput)
    }
}
