// The live sensor's packet-time guard and save schedule, driven through the pipeline (issue 14): live, a packet is
// judged against the wall clock, and saves come from the sensor's monotonic timer, not from packet time.

import Foundation
import PacketDecoding
import Sensor
import SiteModel
import StateStore
import Testing

@Suite("Packet time, live")
struct PacketTimeLiveTests {
    /// A decoded packet of the sample captures, for driving a pipeline directly.
    static func summary(_ packet: PacketTimeTests.Packet) -> PacketSummary {
        packet.bytes.withUnsafeBytes { PacketDecoder.decode($0, wireLength: packet.wireLength, linkType: .ethernet) }
    }

    @Test("live: a packet stamped more than an hour ahead of the wall clock is counted, not analysed, and saves follow the monotonic clock, not packet time")
    func liveGuardAndSaves() throws {
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let packets = PacketTimeTests.samplePackets()
        var configuration = PipelineConfiguration()
        configuration.site = try SiteLoader.load(path: PacketTimeTests.sampleSite)
        var pipeline = Pipeline(configuration: configuration, output: nil)
        let path = directory.appendingPathComponent("live.db").path
        try pipeline.attachState(try StateFile.openForWriting(path: path), interval: .seconds(60), resume: false)
        let now = WallClock.now()
        pipeline.guardWithWallClock(now: now)
        pipeline.saveOnMonotonicClock()
        pipeline.analyse(Self.summary(packets[0]), at: now, wireLength: packets[0].wireLength)  // saves: the first packet
        pipeline.analyse(Self.summary(packets[1]), at: PacketTimeTests.farFuture, wireLength: packets[1].wireLength)
        // Packet time standing still, then jumping a day: neither saves on its own any more.
        for index in 2..<50 {
            pipeline.analyse(Self.summary(packets[index]), at: now, wireLength: packets[index].wireLength)
        }
        #expect(pipeline.timeOutliers == 1)
        #expect(pipeline.firstTimeOutlier == PacketTimeTests.farFuture)
        #expect(pipeline.decode.packets == 49)
        #expect(pipeline.clock == now)
        let keeper = try #require(pipeline.state)
        keeper.waitForSaves()
        #expect(keeper.saves == 1)
        pipeline.saveNow()  // the live loop's monotonic timer
        keeper.waitForSaves()
        #expect(keeper.saves == 2)
        let saved = try #require(try StateFile.openForReading(path: path).load())
        #expect(saved.clock == now)
        #expect(saved.packetsAnalysed == 49)
    }
}
