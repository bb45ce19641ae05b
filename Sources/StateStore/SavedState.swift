// What the state file holds, and how it is written and read. A save replaces everything in one transaction:
// readers (and a process that restarts after `kill -9`) see either the previous save or this one, never a mix.

import Detection
import Foundation
import GRDB
import GRDBSQLite
import HostBaselines
import PacketDecoding
import SiteModel
import StateCoding

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

/// The three blobs a save holds, each encoded by its stage.
public enum StateBlob: String, CaseIterable, Sendable {
    case hostLayout = "host_layout", openFlows = "open_flows", detectionWindows = "detection_windows"
}

/// What a save writes, read while it is written: a snapshot (`SavedState`, for a save on the writer queue while
/// packets go on) or the stages' own tables (the last save of a run, when nothing else touches them), so that save
/// copies no table: hosts are written one record at a time, and each blob is encoded when its row is written and
/// dropped after it, one at a time.
public protocol StateSource {
    var clock: Timestamp? { get }
    var packetsAtClock: UInt64 { get }
    var packetsAnalysed: UInt64 { get }
    var learningStart: Timestamp? { get }
    var services: [ServiceKey: ServiceRecord] { get }
    var exposures: [ExposureKey: ExposureRecord] { get }
    var inventory: [InventoryEntry] { get }
    /// Every live host with its slot, in slot order.
    func forEachHost(_ body: (SavedHost) throws -> Void) rethrows
    func encode(_ blob: StateBlob) -> [UInt8]
}

extension SavedState: StateSource {
    public func forEachHost(_ body: (SavedHost) throws -> Void) rethrows {
        for host in hosts { try body(host) }
    }

    public func encode(_ blob: StateBlob) -> [UInt8] {
        switch blob {
        case .hostLayout: hostLayout
        case .openFlows: openFlows
        case .detectionWindows: detectionWindows
        }
    }
}

extension StateFile {
    /// Writes `state` in place of what the file held, in one transaction, on the calling thread.
    public func save(_ state: some StateSource) throws {
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

    static func write(_ state: some StateSource, _ db: Database) throws {
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
        try state.forEachHost { saved in
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
        let blob = try db.makeStatement(sql: "INSERT INTO blobs (name, data) VALUES (?, zeroblob(?))")
        for name in StateBlob.allCases {
            // Encoded when its row is written and dropped after it: one blob in memory at a time, written into the
            // row in pieces (SQLite's incremental blob I/O), where binding it would have SQLite copy it whole.
            let bytes = state.encode(name)
            try blob.execute(arguments: [name.rawValue, bytes.count])
            try writeBlob(bytes, row: db.lastInsertedRowID, db)
        }
    }

    /// Writes `bytes` into the `data` of blobs row `row`, which holds as many zero bytes.
    static func writeBlob(_ bytes: [UInt8], row: Int64, _ db: Database) throws {
        guard !bytes.isEmpty else { return }
        let connection = db.sqliteConnection
        func failure(_ code: CInt) -> DatabaseError {
            DatabaseError(resultCode: ResultCode(rawValue: code), message: connection.map { String(cString: sqlite3_errmsg($0)) })
        }
        var handle: OpaquePointer?
        let opened = sqlite3_blob_open(connection, "main", "blobs", "data", row, 1, &handle)
        guard opened == SQLITE_OK, let handle else {
            sqlite3_blob_close(handle)
            throw failure(opened)
        }
        var written = SQLITE_OK
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count && written == SQLITE_OK {
                let piece = min(1 << 20, raw.count - offset)
                written = sqlite3_blob_write(handle, raw.baseAddress! + offset, CInt(piece), CInt(offset))
                offset += piece
            }
        }
        let closed = sqlite3_blob_close(handle)
        guard written == SQLITE_OK else { throw failure(written) }
        guard closed == SQLITE_OK else { throw failure(closed) }
    }

    /// Reads a save back. Nothing read from the file is trusted: every value is checked for presence, storage class
    /// and range (see CheckedRow.swift), and the first problem is an error naming the table, the row and the column.
    /// The blobs are checked by the stages that decode them, when the state is restored.
    static func read(_ db: Database, path: String) throws -> SavedState? {
        var meta: [String: DatabaseValue] = [:]
        var number = 0
        let metaRows = try Row.fetchCursor(db, sql: "SELECT * FROM meta")
        while let next = try metaRows.next() {
            number += 1
            var row = CheckedRow(next, path: path, table: "meta", number: number)
            let key = try row.text("key")
            row.key = "key \(key.prefix(40))"
            guard meta[key] == nil else { throw row.failure("key", "'\(key.prefix(40))' appears twice") }
            meta[key] = try row.value("value")
        }
        guard !meta.isEmpty else { return nil }
        func integer(_ key: String, in range: ClosedRange<Int64> = .min ... .max) throws -> Int64? {
            guard let value = meta[key] else { throw StateFileError(path, "the state file lacks '\(key)'") }
            switch value.storage {
            case .null:
                return nil
            case .int64(let number) where range.contains(number):
                return number
            case .int64(let number):
                throw StateFileError(path, "the state file is damaged: table meta, key \(key): \(number) is out of "
                    + "range (\(range.lowerBound) to \(range.upperBound)); refusing to use it")
            default:
                throw StateFileError(path, "the state file is damaged: table meta, key \(key): "
                    + "\(CheckedRow.describe(value)) where an integer belongs; refusing to use it")
            }
        }
        var state = SavedState()
        state.clock = try integer("clock").map(Timestamp.init(nanoseconds:))
        state.packetsAtClock = UInt64(try integer("packets_at_clock", in: 0 ... .max) ?? 0)
        state.packetsAnalysed = UInt64(try integer("packets_analysed", in: 0 ... .max) ?? 0)
        state.learningStart = try integer("learning_start").map(Timestamp.init(nanoseconds:))

        number = 0
        var addresses = Set<IPAddress>()
        let hostRows = try Row.fetchCursor(db, sql: "SELECT * FROM hosts ORDER BY slot")
        while let next = try hostRows.next() {
            number += 1
            var row = CheckedRow(next, path: path, table: "hosts", number: number)
            let address = try row.address("address")
            row.key = "address \(address)"
            guard addresses.insert(address).inserted else { throw row.failure("address", "\(address) appears twice") }
            var record = HostRecord(address: address, isLocal: try row.flag("is_local"),
                                    firstSeen: try row.timestamp("first_seen"))
            record.lastSeen = try row.timestamp("last_seen")
            record.lastActiveAsClient = try row.optionalTimestamp("last_client")
            record.lastActiveAsServer = try row.optionalTimestamp("last_server")
            record.packetsSent = try row.count("packets_sent")
            record.bytesSent = try row.count("bytes_sent")
            record.flowsOriginated = try row.count("flows_originated")
            record.flowsAnswered = try row.count("flows_answered")
            record.arpFrames = try row.count("arp_frames")
            record.learningPackets = try row.count("learning_packets")
            record.learningFlows = try row.count("learning_flows")
            _ = try row.count("peers")  // written for people querying the file; the sketch in the baseline is used
            let slot = try row.integer("slot", in: 0 ... Int64(Int32.max), expected: "a table slot")
            let generation = try row.integer("generation", in: 0 ... Int64(UInt32.max), expected: "a slot generation")
            var baseline = StateReader(try row.blob("baseline"))
            do {
                try record.restoreBaseline(from: &baseline)
                guard baseline.isAtEnd else { throw StateDecodingError("trailing bytes after the baseline") }
            } catch let error as StateDecodingError {
                throw row.failure("baseline", error.description)
            }
            state.hosts.append(SavedHost(slot: Int32(slot), generation: UInt32(generation), record: record))
        }
        number = 0
        let serviceRows = try Row.fetchCursor(db, sql: "SELECT * FROM services")
        while let next = try serviceRows.next() {
            number += 1
            var row = CheckedRow(next, path: path, table: "services", number: number)
            let host = try row.address("host")
            row.key = "host \(host)"
            let key = ServiceKey(host: host, port: UInt16(try row.integer("port", in: 0...65535, expected: "a port")),
                                 ipProtocol: UInt8(try row.integer("protocol", in: 0...255, expected: "an IP protocol")))
            state.services[key] = ServiceRecord(
                firstServed: try row.timestamp("first_served"), lastServed: try row.timestamp("last_served"),
                servedInside: try row.flag("served_inside"), servedOutside: try row.flag("served_outside"),
                learned: try row.flag("learned"), sessions: try row.count("sessions"))
        }
        number = 0
        let exposureRows = try Row.fetchCursor(db, sql: "SELECT * FROM exposures")
        while let next = try exposureRows.next() {
            number += 1
            var row = CheckedRow(next, path: path, table: "exposures", number: number)
            let host = try row.address("host")
            row.key = "host \(host)"
            let key = ExposureKey(host: host, port: UInt16(try row.integer("port", in: 0...65535, expected: "a port")),
                                  ipProtocol: UInt8(try row.integer("protocol", in: 0...255, expected: "an IP protocol")),
                                  source: try row.address("source"))
            let stageName = try row.text("stage")
            guard let stage = Stage.allCases.first(where: { $0.description == stageName }) else {
                throw row.failure("stage", "'\(stageName.prefix(40))' is not a stage")
            }
            state.exposures[key] = ExposureRecord(
                firstSeen: try row.timestamp("first_seen"), lastSeen: try row.timestamp("last_seen"),
                flows: try row.count("flows"), stage: stage, expected: try row.flag("expected"), name: try row.text("name"))
        }
        number = 0
        let inventoryRows = try Row.fetchCursor(db, sql: "SELECT * FROM inventory ORDER BY position")
        while let next = try inventoryRows.next() {
            number += 1
            var row = CheckedRow(next, path: path, table: "inventory", number: number)
            let network = try row.text("network")
            row.key = "network \(network.prefix(60))"
            guard let parsed = IPNetwork(network) else { throw row.failure("network", "not a network") }
            let declared = try row.text("state")
            guard let hostState = HostState(rawValue: declared) else {
                throw row.failure("state", "'\(declared.prefix(40))' is not a host state")
            }
            state.inventory.append(InventoryEntry(network: parsed, name: try row.text("name"), state: hostState))
        }
        var blobs: [String: [UInt8]] = [:]
        number = 0
        let blobRows = try Row.fetchCursor(db, sql: "SELECT * FROM blobs")
        while let next = try blobRows.next() {
            number += 1
            var row = CheckedRow(next, path: path, table: "blobs", number: number)
            let name = try row.text("name")
            row.key = "name \(name.prefix(40))"
            guard blobs[name] == nil else { throw row.failure("name", "'\(name.prefix(40))' appears twice") }
            blobs[name] = try row.blob("data")
        }
        guard let hostLayout = blobs["host_layout"], let openFlows = blobs["open_flows"],
            let detectionWindows = blobs["detection_windows"]
        else {
            let missing = ["host_layout", "open_flows", "detection_windows"].first { blobs[$0] == nil } ?? ""
            throw StateFileError(path, "the state file is damaged: table blobs, column name: no row named '\(missing)'; "
                + "refusing to use it")
        }
        state.hostLayout = hostLayout
        state.openFlows = openFlows
        state.detectionWindows = detectionWindows
        return state
    }
}

/// SQLite integers are signed 64-bit; counters are stored by bit pattern.
func signed(_ value: UInt64) -> Int64 { Int64(bitPattern: value) }
func unsigned(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) }

