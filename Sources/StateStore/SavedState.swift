// What the state file holds, and how it is written and read. A save replaces everything in one transaction:
// readers (and a process that restarts after `kill -9`) see either the previous save or this one, never a mix.
//
// Beside the tables a person can query (meta, hosts, services, exposures, inventory), each stage saves its internals
// as named, versioned sections (table `sections`: name, version, data), written by the stage and checked by it when
// the state is restored; the state store keeps the bytes and does not know the names. Rows are written in a fixed
// order (hosts by slot, services and exposures by key, inventory by position, sections in the stages' order), so
// the same state gives the same file content. Schema 1 and 2 files hold three positional blobs instead (table
// `blobs`), read as they are and converted by the stages on restore; the first save replaces them with sections.

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
    public var services: [ServiceKey: ServiceRecord] = [:]
    public var exposures: [ExposureKey: ExposureRecord] = [:]
    /// The site inventory as it stood at the save (for reports run without the site file): networks, names and
    /// declared states.
    public var inventory: [InventoryEntry] = []
    /// The stages' sections, in the order they were written (a snapshot) or stored (read back).
    public var sections: [(name: String, section: StateSection)] = []
    /// A schema 1 or 2 file's blobs (host_layout, open_flows, detection_windows), for the stages to convert; empty
    /// for a file of sections.
    public var schema2Blobs: [String: [UInt8]] = [:]

    public init() {}

    /// The sections by name.
    public var sectionsByName: [String: StateSection] {
        Dictionary(sections.map { ($0.name, $0.section) }, uniquingKeysWith: { first, _ in first })
    }
}

/// The blobs of schema 1 and 2 files, each encoded by its stage.
public enum Schema2Blob: String, CaseIterable, Sendable {
    case hostLayout = "host_layout", openFlows = "open_flows", detectionWindows = "detection_windows"
}

/// What a save writes, read while it is written: a snapshot (`SavedState`, for a save on the writer queue while
/// packets go on) or the stages' own tables (the last save of a run, when nothing else touches them), so that save
/// copies no table: hosts are written one record at a time, and each section is encoded when its row is written and
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
    /// The sections to write, in order, with the versions of their layouts.
    var sectionList: [(name: String, version: Int)] { get }
    /// The bytes of section `name`, one of `sectionList`.
    func encode(section name: String) -> [UInt8]
}

extension SavedState: StateSource {
    public func forEachHost(_ body: (SavedHost) throws -> Void) rethrows {
        for host in hosts { try body(host) }
    }

    public var sectionList: [(name: String, version: Int)] { sections.map { ($0.name, $0.section.version) } }

    public func encode(section name: String) -> [UInt8] {
        sections.first { $0.name == name }?.section.data ?? []
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
        for table in ["meta", "hosts", "services", "exposures", "inventory", "sections"] {
            try db.execute(sql: "DELETE FROM \(table)")
        }
        // A schema 2 file's blobs, converted on reading, are replaced by the sections this save writes.
        try db.execute(sql: "DROP TABLE IF EXISTS blobs")
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
        let services = state.services
        for key in services.keys.sorted(by: { ($0.host, $0.port, $0.ipProtocol) < ($1.host, $1.port, $1.ipProtocol) }) {
            let s = services[key]!
            try service.execute(arguments: [key.host.description, Int(key.port), Int(key.ipProtocol),
                                            s.firstServed.nanoseconds, s.lastServed.nanoseconds, s.servedInside,
                                            s.servedOutside, s.learned, signed(s.sessions)])
        }
        let exposure = try db.makeStatement(sql: """
            INSERT INTO exposures (host, port, protocol, source, first_seen, last_seen, flows, stage, expected, name)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let exposures = state.exposures
        for key in exposures.keys.sorted() {
            let e = exposures[key]!
            try exposure.execute(arguments: [key.host.description, Int(key.port), Int(key.ipProtocol),
                                             key.source.description, e.firstSeen.nanoseconds, e.lastSeen.nanoseconds,
                                             signed(e.flows), e.stage.description, e.expected, e.name])
        }
        let inventory = try db.makeStatement(
            sql: "INSERT INTO inventory (position, network, name, state, macs) VALUES (?, ?, ?, ?, ?)")
        for (position, entry) in state.inventory.enumerated() {
            try inventory.execute(arguments: [position, entry.network?.description ?? "", entry.name,
                                              entry.state.rawValue, entry.macs.map(\.description).joined(separator: ",")])
        }
        let section = try db.makeStatement(sql: "INSERT INTO sections (name, version, data) VALUES (?, ?, zeroblob(?))")
        for (name, version) in state.sectionList {
            // Encoded when its row is written and dropped after it: one section in memory at a time, written into
            // the row in pieces (SQLite's incremental blob I/O), where binding it would have SQLite copy it whole.
            let bytes = state.encode(section: name)
            try section.execute(arguments: [name, version, bytes.count])
            try writeBlob(bytes, row: db.lastInsertedRowID, db)
        }
    }

    /// Writes `bytes` into the `data` of sections row `row`, which holds as many zero bytes.
    static func writeBlob(_ bytes: [UInt8], row: Int64, _ db: Database) throws {
        guard !bytes.isEmpty else { return }
        let connection = db.sqliteConnection
        func failure(_ code: CInt) -> DatabaseError {
            DatabaseError(resultCode: ResultCode(rawValue: code), message: connection.map { String(cString: sqlite3_errmsg($0)) })
        }
        var handle: OpaquePointer?
        let opened = sqlite3_blob_open(connection, "main", "sections", "data", row, 1, &handle)
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
    /// The sections (and a schema 2 file's blobs) are checked by the stages that decode them, when the state is
    /// restored.
    static func read(_ db: Database, path: String) throws -> SavedState? {
        var meta: [String: DatabaseValue] = [:]
        try forEachRow(db, "SELECT * FROM meta", table: "meta", path: path) { row in
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

        var addresses = Set<IPAddress>()
        try forEachRow(db, "SELECT * FROM hosts ORDER BY slot", table: "hosts", path: path) { row in
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
        try forEachRow(db, "SELECT * FROM services", table: "services", path: path) { row in
            let host = try row.address("host")
            row.key = "host \(host)"
            let key = ServiceKey(host: host, port: UInt16(try row.integer("port", in: 0...65535, expected: "a port")),
                                 ipProtocol: UInt8(try row.integer("protocol", in: 0...255, expected: "an IP protocol")))
            state.services[key] = ServiceRecord(
                firstServed: try row.timestamp("first_served"), lastServed: try row.timestamp("last_served"),
                servedInside: try row.flag("served_inside"), servedOutside: try row.flag("served_outside"),
                learned: try row.flag("learned"), sessions: try row.count("sessions"))
        }
        try forEachRow(db, "SELECT * FROM exposures", table: "exposures", path: path) { row in
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
        try forEachRow(db, "SELECT * FROM inventory ORDER BY position", table: "inventory", path: path) { row in
            let network = try row.text("network")
            row.key = "network \(network.prefix(60))"
            // Schema 3 and older have no `macs`: their entries are declared by address.
            let macText = row.row.hasColumn("macs") ? try row.text("macs") : ""
            var macs: [MACAddress] = []
            for part in macText.split(separator: ",", omittingEmptySubsequences: false) where !macText.isEmpty {
                guard let mac = MACAddress(part), !mac.isGroup, mac.value != 0 else {
                    throw row.failure("macs", "'\(part.prefix(40))' is not a station MAC")
                }
                macs.append(mac)
            }
            let parsed = IPNetwork(network)
            guard parsed != nil || network.isEmpty && !macs.isEmpty else {
                throw row.failure("network", "not a network")
            }
            let declared = try row.text("state")
            guard let hostState = HostState(rawValue: declared) else {
                throw row.failure("state", "'\(declared.prefix(40))' is not a host state")
            }
            state.inventory.append(InventoryEntry(network: parsed, name: try row.text("name"), state: hostState,
                                                  macs: macs))
        }
        let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        if tables.contains("sections") {
            var names = Set<String>()
            try forEachRow(db, "SELECT * FROM sections ORDER BY rowid", table: "sections", path: path) { row in
                let name = try row.text("name")
                row.key = "name \(name.prefix(40))"
                guard names.insert(name).inserted else { throw row.failure("name", "'\(name.prefix(40))' appears twice") }
                let version = try row.integer("version", in: 1 ... Int64(Int32.max), expected: "a layout version")
                state.sections.append((name, StateSection(version: Int(version), data: try row.blob("data"))))
            }
        }
        // Schema 1 and 2 (and a schema 3 file migrated from one, until its first save): the three blobs.
        guard tables.contains("blobs"), try Int.fetchOne(db, sql: "SELECT count(*) FROM blobs") ?? 0 > 0 else {
            return state
        }
        guard state.sections.isEmpty else {
            throw StateFileError(path, "the state file is damaged: it holds both sections and schema 2 blobs; "
                + "refusing to use it")
        }
        try forEachRow(db, "SELECT * FROM blobs", table: "blobs", path: path) { row in
            let name = try row.text("name")
            row.key = "name \(name.prefix(40))"
            guard state.schema2Blobs[name] == nil else { throw row.failure("name", "'\(name.prefix(40))' appears twice") }
            state.schema2Blobs[name] = try row.blob("data")
        }
        if let missing = Schema2Blob.allCases.first(where: { state.schema2Blobs[$0.rawValue] == nil }) {
            throw StateFileError(path, "the state file is damaged: table blobs, column name: no row named "
                + "'\(missing.rawValue)'; refusing to use it")
        }
        return state
    }
}

/// Runs `body` on each row `sql` selects from `table`, numbered from 1 for the messages.
func forEachRow(_ db: Database, _ sql: String, table: String, path: String,
                _ body: (inout CheckedRow) throws -> Void) throws {
    var number = 0
    let rows = try Row.fetchCursor(db, sql: sql)
    while let next = try rows.next() {
        number += 1
        var row = CheckedRow(next, path: path, table: table, number: number)
        try body(&row)
    }
}

/// SQLite integers are signed 64-bit; counters are stored by bit pattern.
func signed(_ value: UInt64) -> Int64 { Int64(bitPattern: value) }
func unsigned(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) }

