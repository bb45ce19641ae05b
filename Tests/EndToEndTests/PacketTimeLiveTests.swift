// The live sensor's packet-time guard and save schedule, driven through the pipeline (issue 14): live, a packet is
// judged against the wall clock, and saves come from the sensor's monotonic timer, not from packet time.

import Foundation
import PacketDecoding
import Sensor
import SiteModel
import StateStore
import Testing

@Suite("Packet time, through the pipeline")
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

    @Test("replay: up to three stray stamps in a row are outliers, four that agree are a jump the clock follows, two at the very end are followed")
    func strayRuns() throws {
        let packets = PacketTimeTests.samplePackets()
        let base = Timestamp(seconds: 1_800_000_000)
        func run(strays: Int, thenNormal: Bool) -> Pipeline {
            var pipeline = Pipeline(configuration: PipelineConfiguration(), output: nil)
            var index = 0
            func feed(_ time: Timestamp) {
                pipeline.analyse(Self.summary(packets[index]), at: time, wireLength: packets[index].wireLength)
                index += 1
            }
            for i in 0..<10 { feed(base + .seconds(Int64(i))) }
            for i in 0..<strays { feed(PacketTimeTests.farFuture + .seconds(Int64(i))) }
            if thenNormal { for i in 10..<20 { feed(base + .seconds(Int64(i))) } }
            pipeline.finish()
            return pipeline
        }
        for strays in 1...3 {
            let pipeline = run(strays: strays, thenNormal: true)
            #expect(pipeline.timeOutliers == UInt64(strays), "\(strays) strays")
            #expect(pipeline.decode.packets == 20)
            #expect(pipeline.clock == base + .seconds(19))
        }
        let jump = run(strays: 4, thenNormal: true)
        #expect(jump.timeOutliers == 0)
        #expect(jump.decode.packets == 24)
        #expect(jump.clock == PacketTimeTests.farFuture + .seconds(3))
        let last = run(strays: 1, thenNormal: false)
        #expect(last.timeOutliers == 1 && last.clock == base + .seconds(9))
        let lastTwo = run(strays: 2, thenNormal: false)
        #expect(lastTwo.timeOutliers == 0 && lastTwo.clock == PacketTimeTests.farFuture + .seconds(1))
    }
}
