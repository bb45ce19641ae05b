// A live sensor saves its state on the monotonic clock (issue 14): packet times that stand still (here: no packet
// at all after the first few) or jump cannot stop the saves, as they did when saves followed packet time.

import Foundation
import GRDB
import Glibc
import Testing

@Suite("idlewatch live: state saves", .serialized, .enabled(if: geteuid() == 0, "needs root for a veth pair and a namespace"))
struct LiveSaveTests {
    /// The wall-clock time of the last save (the `saved_at` every save writes), nil before the first.
    static func savedAt(_ path: String) -> Double? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        return try? DatabaseQueue(path: path, configuration: configuration).read { db in
            try Double.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'saved_at'")
        }
    }

    @Test("saved every --save-interval seconds while no packet comes (packet time stands still), and at exit",
          .timeLimit(.minutes(2)))
    func savesWhilePacketTimeStandsStill() throws {
        let link = try TestLink()
        let directory = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("live.db").path
        // The filter passes only the connection attempts below: afterwards the sensor sees no packet at all.
        let live = try LiveProcess(["-i", link.local, "--state", state, "--save-interval", "1", "--user", "root",
                                    "--immediate-mode", "--stats-interval", "0", "--silent-after", "0",
                                    "tcp", "portrange", "2000-2015"])
        #expect(live.waitForError("capturing on \(link.local)"), "\(live.standardError)")
        usleep(300_000)
        link.connectToClosedPorts(2000...2015)
        // Wait for the first save (the first packet's), then watch the file while nothing is captured.
        let firstDeadline = Date().addingTimeInterval(10)
        while Self.savedAt(state) == nil && Date() < firstDeadline { usleep(50_000) }
        var seen = Set<Double>()
        if let first = Self.savedAt(state) { seen.insert(first) }
        let deadline = Date().addingTimeInterval(4.5)
        while Date() < deadline {
            if let at = Self.savedAt(state) { seen.insert(at) }
            usleep(100_000)
        }
        live.signal(SIGTERM)
        #expect(live.waitForExit() == 0, "\(live.standardError)")
        // About four saves in 4.5 s without a packet; packet-time saves would have made none.
        #expect(seen.count >= 3, "saves seen: \(seen.sorted()); \(live.standardError)")
        let saves = live.standardError.firstMatch(of: /state .*: saved (\d+) times/).flatMap { Int($0.1) }
        #expect((saves ?? 0) >= 4, "\(live.standardError)")
    }
}
