// What the state file holds, and how it is written and read. A save replaces everything in one transaction:
// readers (and a process that restarts after `kill -9`) see either the previous save or this one, never a mix.

import Detection
import Foundation
import GRDB
import HostBaselines
import PacketDecoding
import SiteModel

public struct SavedState: Sendable {
    /// The latest packet time analysed into the state, and how many packets carried exactly that time: where a
    /// replay of the same input resumes.
    public var clock: Timestamp?
    public var packetsAtClock: UInt64 = 0
    /// Packets analysed into this state over all runs.
    public var packetsAnalysed: UInt64 = 0
    /// The first packet time ever analysed: learning counts from it.
    public var learningStart: Timestamp?
    public var hosts: [SavedHost] = []
    public var hostLayout: [UInt8] = []
    public var services: [ServiceKey: ServiceRecord] = [:]
    public var exposures: [ExposureKey: ExposureRecord] = [:]
    /// The site inventory as it stood at the save (for reports run without the site file): networks, names and
    /// declared states.
    public var inventory: [InventoryEntry] = []
    /// The flow table's open flows and the detections' windows, as each stage encoded them.
    public var openFlows: [UInt8] = []
    public var detectionWindows: [UInt8] = []

    public init() {}
}

extension StateFile {
    /// Writes `state` in place of what the file held, in one transaction.
    public func save(_ state: SavedState) throws {
        do {
            try database.write { db in try StateFile.write(state, db) }
        } catch let error as DatabaseError {
            throw StateFileError(path, "cannot save the state: \(error.message ?? "\(error.resultCode)")")
        }
    }

    /// Starts writing `state` on the database's writer queue (one transaction, as `save`) and returns at once, so the
    /// capture goes on while SQLite writes. Writes run in the order they were started; `completion` runs on that
    /// queue when the transaction committed (nil) or failed.
    public func saveInBackground(_ state: SavedState, completion: @escaping @Sendable (StateFileError?) -> Void) {
        let path = self.path
        database.asyncWrite({ db in try StateFile.write(state, db) }, completion: { _, result in
            switch result {
            case .success:
                completion(nil)
            case .failure(let error as DatabaseError):
                completion(StateFileError(path, "cannot save the state: \(error.message ?? "\(error.resultCode)")"))
            case .failure(let error):
                completion(StateFileError(path, "cannot save the state: \(error)"))
            }
        })
    }

    /// The saved state, or nil if nothing was saved yet.
    public func load() throws -> SavedState? {
        do {
            return try database.read { db in try StateFile.read(db, path: path) }
        } catch let error as StateFileError {
            throw error
        } catch let error as StateDecodingError {
            throw StateFileError(path, "the state file is inconsistent: \(error.description)")
        } catch let error as DatabaseError {
            throw StateFileError(path, "cannot read the state: \(error.message ?? "\(error.resultCode)")")
        }
    }

    static func write(_ state: SavedState, _ db: Database) throws {
        for table in ["meta", "hosts", "services", "exposures", "inventory", "blobs"] {
            try db.execute(sql: "DELETE FROM \(table)")
        }
        let meta = try db.makeStatement(sql: "INSERT INTO meta (key, value) VALUES (?, ?)")
        try meta.execute(arguments: ["clock", state.clock?.nanoseconds])
        try meta.execute(arguments: ["packets_at_clock", Int64(bitPattern: state.packetsAtClock)])
        try meta.execute(arguments: ["packets_analysed", Int64(bitPattern: state.packetsAnalysed)])
        try meta.execute(arguments: ["learning_start", state.learningStart?.nanoseconds])
        try meta.execute(arguments: ["saved_at", Date().timeIntervalSince1970])

        let host = try db.makeStatement(sql: """
            INSERT INTO hosts (address, is_local, first_seen, last_seen, last_client, last_server, packets_sent,
                bytes_sent, flows_originated, flows_answered, arp_frames, learning_packets, learning_flows, peers,
                slot, generation, baseline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for saved in state.hosts {
            let r = saved.record
            var baseline = StateWriter()
            r.encodeBaseline(into: &baseline)
            let values: [(any DatabaseValueConvertible)?] = [
                r.address.description, r.isLocal, r.firstSeen.nanoseconds, r.lastSeen.nanoseconds,
                r.lastActiveAsClient?.nanoseconds, r.lastActiveAsServer?.nanoseconds, signed(r.packetsSent),
                signed(r.bytesSent), signed(r.flowsOriginated), signed(r.flowsAnswered), signed(r.arpFrames),
                signed(r.learningPackets), signed(r.learningFlows), r.peers.estimate, saved.slot,
                Int64(r.generation), Data(baseline.bytes),
            ]
            try host.execute(arguments: StatementArguments(values))
        }
        let service = try db.makeStatement(sql: """
            INSERT INTO services (host, port, protocol, first_served, last_served, served_inside, served_outside,
                learned, sessions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (key, s) in state.services {
            try service.execute(arguments: [key.host.description, Int(key.port), Int(key.ipProtocol),
                                            s.firstServed.nanoseconds, s.lastServed.nanoseconds, s.servedInside,
                                            s.servedOutside, s.learned, signed(s.sessions)])
        }
        let exposure = try db.makeStatement(sql: """
            INSERT INTO exposures (host, port, protocol, source, first_seen, last_seen, flows, stage, expected, name)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (key, e) in state.exposures {
            try exposure.execute(arguments: [key.host.description, Int(key.port), Int(key.ipProtocol),
                                             key.source.description, e.firstSeen.nanoseconds, e.lastSeen.nanoseconds,
                                             signed(e.flows), e.stage.description, e.expected, e.name])
        }
        let inventory = try db.makeStatement(sql: "INSERT INTO inventory (position, network, name, state) VALUES (?, ?, ?, ?)")
        for (position, entry) in state.inventory.enumerated() {
            try inventory.execute(arguments: [position, entry.network.description, entry.name, entry.state.rawValue])
        }
        let blob = try db.makeStatement(sql: "INSERT INTO blobs (name, data) VALUES (?, ?)")
        try blob.execute(arguments: ["host_layout", Data(state.hostLayout)])
        try blob.execute(arguments: ["open_flows", Data(state.openFlows)])
        try blob.execute(arguments: ["detection_windows", Data(state.detectionWindows)])
    }

    static func read(_ db: Database, path: String) throws -> SavedState? {
        var meta: [String: DatabaseValue] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta") { meta[row["key"]] = row["value"] }
        guard !meta.isEmpty else { return nil }
        func integer(_ key: String) throws -> Int64? {
            guard let value = meta[key] else { throw StateFileError(path, "the state file lacks '\(key)'") }
            if value.isNull { return nil }
            guard let number = Int64.fromDatabaseValue(value) else {
                throw StateFileError(path, "the state file's '\(key)' is not a number")
            }
            return number
        }
        var state = SavedState()
        state.clock = try integer("clock").map(Timestamp.init(nanoseconds:))
        state.packetsAtClock = UInt64(bitPattern: try integer("packets_at_clock") ?? 0)
        state.packetsAnalysed = UInt64(bitPattern: try integer("packets_analysed") ?? 0)
        state.learningStart = try integer("learning_start").map(Timestamp.init(nanoseconds:))

        let rows1 = try Row.fetchCursor(db, sql: "SELECT * FROM hosts ORDER BY slot")
        while let row = try rows1.next() {
            let address = try parseAddress(row["address"], path: path)
            var record = HostRecord(address: address, isLocal: row["is_local"],
                                    firstSeen: Timestamp(nanoseconds: row["first_seen"]))
            record.lastSeen = Timestamp(nanoseconds: row["last_seen"])
            record.lastActiveAsClient = (row["last_client"] as Int64?).map(Timestamp.init(nanoseconds:))
            record.lastActiveAsServer = (row["last_server"] as Int64?).map(Timestamp.init(nanoseconds:))
            record.packetsSent = unsigned(row["packets_sent"])
            record.bytesSent = unsigned(row["bytes_sent"])
            record.flowsOriginated = unsigned(row["flows_originated"])
            record.flowsAnswered = unsigned(row["flows_answered"])
            record.arpFrames = unsigned(row["arp_frames"])
            record.learningPackets = unsigned(row["learning_packets"])
            record.learningFlows = unsigned(row["learning_flows"])
            var baseline = StateReader([UInt8](row["baseline"] as Data))
            try record.restoreBaseline(from: &baseline)
            let generation: Int64 = row["generation"]
            guard let generationValue = UInt32(exactly: generation) else {
                throw StateFileError(path, "host \(address) has generation \(generation)")
            }
            state.hosts.append(SavedHost(slot: Int32(truncatingIfNeeded: row["slot"] as Int64),
                                         generation: generationValue, record: record))
        }
        let rows2 = try Row.fetchCursor(db, sql: "SELECT * FROM services")
        while let row = try rows2.next() {
            let key = ServiceKey(host: try parseAddress(row["host"], path: path), port: UInt16(truncatingIfNeeded: row["port"] as Int64),
                                 ipProtocol: UInt8(truncatingIfNeeded: row["protocol"] as Int64))
            state.services[key] = ServiceRecord(
                firstServed: Timestamp(nanoseconds: row["first_served"]), lastServed: Timestamp(nanoseconds: row["last_served"]),
                servedInside: row["served_inside"], servedOutside: row["served_outside"], learned: row["learned"],
                sessions: unsigned(row["sessions"]))
        }
        let rows3 = try Row.fetchCursor(db, sql: "SELECT * FROM exposures")
        while let row = try rows3.next() {
            let key = ExposureKey(host: try parseAddress(row["host"], path: path),
                                  port: UInt16(truncatingIfNeeded: row["port"] as Int64),
                                  ipProtocol: UInt8(truncatingIfNeeded: row["protocol"] as Int64),
                                  source: try parseAddress(row["source"], path: path))
            let stageName: String = row["stage"]
            guard let stage = Stage.allCases.first(where: { $0.description == stageName }) else {
                throw StateFileError(path, "exposure of \(key.host) has stage '\(stageName)'")
            }
            state.exposures[key] = ExposureRecord(
                firstSeen: Timestamp(nanoseconds: row["first_seen"]), lastSeen: Timestamp(nanoseconds: row["last_seen"]),
                flows: unsigned(row["flows"]), stage: stage, expected: row["expected"], name: row["name"])
        }
        let rows4 = try Row.fetchCursor(db, sql: "SELECT network, name, state FROM inventory ORDER BY position")
        while let row = try rows4.next() {
            let network: String = row["network"], declared: String = row["state"]
            guard let parsed = IPNetwork(network), let hostState = HostState(rawValue: declared) else {
                throw StateFileError(path, "inventory entry '\(network)' (\(declared)) is not a network and a host state")
            }
            state.inventory.append(InventoryEntry(network: parsed, name: row["name"], state: hostState))
        }
        var blobs: [String: [UInt8]] = [:]
        let rows5 = try Row.fetchCursor(db, sql: "SELECT name, data FROM blobs")
        while let row = try rows5.next() {
            blobs[row["name"]] = [UInt8](row["data"] as Data)
        }
        for name in ["host_layout", "open_flows", "detection_windows"] where blobs[name] == nil {
            throw StateFileError(path, "the state file lacks its '\(name)'")
        }
        state.hostLayout = blobs["host_layout"]!
        state.openFlows = blobs["open_flows"]!
        state.detectionWindows = blobs["detection_windows"]!
        return state
    }

    static func parseAddress(_ text: String, path: String) throws -> IPAddress {
        guard let address = IPAddress(text) else { throw StateFileError(path, "'\(text)' is not an address") }
        return address
    }
}

/// SQLite integers are signed 64-bit; counters are stored by bit pattern.
func signed(_ value: UInt64) -> Int64 { Int64(bitPattern: value) }
func unsigned(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) }
