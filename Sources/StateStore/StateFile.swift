// The state file: one SQLite database (through GRDB) in WAL mode, so a live sensor writes while reports read.
//
// Identity and version live in SQLite's own header: `application_id` says the file is IdleWatch's, `user_version`
// is the schema version. Both are read from the file's first 100 bytes before SQLite opens it, so a foreign file,
// or one written by a newer IdleWatch, is refused without being touched (SQLite would switch it to WAL mode on
// open). Schema changes are GRDB migrations, each bumping `user_version`.

import Foundation
import Glibc
import GRDB

public struct StateFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

public final class StateFile {
    /// "IWst": marks the database as an IdleWatch state file.
    public static let applicationID: Int32 = 0x4957_7374
    /// The schema this build writes and reads. Older files are migrated (by a sensor) or read as they are (by a
    /// report: every older layout is a subset of this one); newer ones are refused.
    public static let schemaVersion = 4

    public let path: String
    let database: any DatabaseWriter & DatabaseReader

    /// Opens (creating if missing) the state file for writing, as the only writer (see `StateFileClaim`: links and
    /// files that are not plain are refused, a second writer is refused naming the first). With `owner`, the file
    /// and its `-wal` and `-shm` files are handed to that user by descriptor, so the process can drop to it and
    /// go on saving in a directory that stays root's.
    public static func openForWriting(path: String, handTo owner: StateFileOwner? = nil) throws -> StateFile {
        let claim = try StateFileClaim.take(path: path, owner: owner)
        _ = try checkHeader(descriptor: claim.descriptor, path: path)
        try claim.prepareCompanions()
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "idlewatch-state"
        // WAL with synchronous=NORMAL: a commit survives the process being killed; a power cut may lose the last
        // commits but never leaves the file inconsistent.
        // Each connection keeps the claim (its lock and descriptor) alive, so it is released only once the last
        // connection is closed: closing the descriptor before would drop SQLite's POSIX locks on the file.
        configuration.prepareDatabase { db in
            withExtendedLifetime(claim) {}
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let pool: DatabasePool
        do {
            // SQLite opens the file again by its path without links, in the directory the claim checked.
            pool = try DatabasePool(path: claim.resolvedPath, configuration: configuration)
            guard claim.stillNamesTheFile() else {
                try? pool.close()
                throw StateFileError(path, "was replaced while being opened; refused")
            }
            // The header could lag behind the write-ahead log: look again through SQLite before migrating.
            try pool.read { db in try checkIdentity(db, path: path) }
            try migrator.migrate(pool)
        } catch let error as StateFileError {
            throw error
        } catch let error as DatabaseError {
            throw StateFileError(path, "cannot open the state file: \(error.message ?? "\(error.resultCode)")")
        }
        return StateFile(path: path, database: pool)
    }

    /// Opens an existing state file for reading only (a report), alongside a sensor that may be writing it.
    public static func openForReading(path: String) throws -> StateFile {
        try StateFileClaim.refuseUnlessReadable(path)
        guard FileManager.default.fileExists(atPath: path) else {
            throw StateFileError(path, "no such state file (a replay or live run with --state creates it)")
        }
        let empty = StateFileError(path, "the state file is empty: nothing has been saved in it yet")
        // The header is what the last checkpoint wrote: while a sensor's commits are still in the write-ahead log
        // (a new file, or fewer commits than SQLite's checkpoint threshold), it can say "no table" about a file
        // full of them. Then SQLite, which reads the log, decides below.
        guard !(try checkHeader(path: path)) || hasWriteAheadLog(path) else { throw empty }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.read { db in
                if try checkIdentity(db, path: path) { throw empty }
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                guard (1...schemaVersion).contains(version) else {
                    throw StateFileError(path, "schema version \(version); this IdleWatch reads 1 to \(schemaVersion)")
                }
            }
            return StateFile(path: path, database: queue)
        } catch let error as StateFileError {
            throw error
        } catch let error as DatabaseError {
            throw StateFileError(path, "cannot read the state file: \(error.message ?? "\(error.resultCode)")")
        }
    }

    init(path: String, database: any DatabaseWriter & DatabaseReader) {
        self.path = path
        self.database = database
    }

    /// Checks the SQLite header without opening the file through SQLite. Returns whether the file is new (missing
    /// or empty); throws for anything that is not an IdleWatch state file this build can read.
    static func checkHeader(path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw StateFileError(path, "cannot read the state file (permissions?)")
            }
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
                throw StateFileError(path, "directory \(directory) does not exist")
            }
            return true
        }
        defer { try? handle.close() }
        return try judgeHeader([UInt8]((try? handle.read(upToCount: 100)) ?? Data()), path: path, askingSQLite: true)
    }

    /// As `checkHeader(path:)`, from a descriptor already open on the file (read with pread: the offset stays).
    static func checkHeader(descriptor: Int32, path: String) throws -> Bool {
        var header = [UInt8](repeating: 0, count: 100)
        var count = 0
        while count < header.count {
            let read = header.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + count, 100 - count, off_t(count)) }
            if read < 0 && errno == EINTR { continue }
            guard read >= 0 else { throw StateFileError(path, "cannot read the state file: \(describe(errno))") }
            if read == 0 { break }
            count += read
        }
        return try judgeHeader(Array(header[0..<count]), path: path)
    }

    /// The verdict on a file's first 100 bytes (fewer when the file is shorter): whether it is new (empty);
    /// throws for anything that is not an IdleWatch state file this build can read.
    /// `askingSQLite` (readers only): a header with tables and no mark is decided by SQLite opened read-only
    /// (`unmarkedFileIsNew`). A writer does not ask: SQLite could make companion files before the claim has
    /// checked them. (A header shows the table only after a checkpoint, which a sensor killed mid-creation never
    /// makes; through the write-ahead log, `checkIdentity` decides for writers too.)
    static func judgeHeader(_ header: [UInt8], path: String, askingSQLite: Bool = false) throws -> Bool {
        if header.isEmpty { return true }
        let magic = Array("SQLite format 3\0".utf8)
        guard header.count == 100, Array(header[0..<16]) == magic else {
            throw StateFileError(path, "not an IdleWatch state file (not a SQLite database); left untouched")
        }
        func bigEndian(_ offset: Int) -> Int32 {
            Int32(bitPattern: header[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        // No table can exist without a page of its own: one page means no table.
        let application = bigEndian(68), version = Int(bigEndian(60)), hasTables = bigEndian(28) > 1
        // Tables and no mark: foreign, or a creation that stopped after GRDB's bookkeeping table (see
        // `checkIdentity`); SQLite, read-only, tells which.
        if askingSQLite && application == 0 && version == 0 && hasTables { return try unmarkedFileIsNew(path: path) }
        return try judge(application: application, version: version, hasTables: hasTables, path: path)
    }

    /// As `checkHeader`, through SQLite (so commits still in the write-ahead log count). Returns whether the file
    /// is new.
    ///
    /// GRDB makes its bookkeeping table (`grdb_migrations`) in a transaction of its own, before the first migration
    /// creates the tables and marks the file; so a file caught between the two (by a report reading while a sensor
    /// creates it, or left so by a sensor killed there) has a table and no mark. That table, empty, is not counted:
    /// such a file is one still to be set up, not a foreign database.
    @discardableResult
    static func checkIdentity(_ db: Database, path: String) throws -> Bool {
        let application = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        var objects = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
        if application == 0 && version == 0 && objects > 0 {
            let bookkeeping = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM sqlite_master
                WHERE name IN ('grdb_migrations', 'sqlite_autoindex_grdb_migrations_1')
                """) ?? 0
            if bookkeeping == objects, try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") == 0 {
                objects = 0
            }
        }
        return try judge(application: application, version: version, hasTables: objects > 0, path: path)
    }

    /// Whether a file whose header says "tables but no mark" is one whose creation stopped between GRDB's
    /// bookkeeping table and the first migration (then it is new), asked of SQLite read-only, which leaves the file
    /// as it is; any other database with tables and no mark is refused as foreign, as `judgeHeader` would.
    static func unmarkedFileIsNew(path: String) throws -> Bool {
        var configuration = Configuration()
        configuration.readonly = true
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw StateFileError(path, "not an IdleWatch state file (a SQLite database with application id 0); left untouched")
        }
        defer { try? queue.close() }
        do {
            return try queue.read { db in try checkIdentity(db, path: path) }
        } catch let error as StateFileError {
            throw error
        } catch {
            throw StateFileError(path, "not an IdleWatch state file (a SQLite database with application id 0); left untouched")
        }
    }

    /// Whether SQLite's write-ahead log beside the file holds anything (commits not yet checkpointed).
    static func hasWriteAheadLog(_ path: String) -> Bool {
        var info = stat()
        return stat(path + "-wal", &info) == 0 && info.st_size > 0
    }

    /// Whether a SQLite database is a state file this build can use, from its application id and user version;
    /// returns true when it is one still to be set up: application id 0 and no table, a state file whose creation
    /// was interrupted before its first migration (the migration marks it).
    static func judge(application: Int32, version: Int, hasTables: Bool, path: String) throws -> Bool {
        if application == 0 && version == 0 && !hasTables { return true }
        guard application == applicationID else {
            throw StateFileError(path, "not an IdleWatch state file (a SQLite database with application id "
                + "\(application)); left untouched")
        }
        guard version <= schemaVersion else {
            throw StateFileError(path, "written by a newer IdleWatch (schema version \(version); this one knows up "
                + "to \(schemaVersion)); left untouched")
        }
        return false
    }

    /// Version 1: the learned state (hosts, services, exposures), the site inventory it was judged against, run
    /// facts in `meta`, and the internals each stage saves as bytes in `blobs`.
    /// Version 2: the `open_flows` blob may hold flows of the half-open timeout class (SYN-ACKed, never
    /// acknowledged), which a version 1 build cannot place. Tables and blob layouts are otherwise unchanged, so a
    /// version 1 file is read as it is and only marked; the version keeps a build that knows only version 1 from
    /// loading a file it would misread, with "written by a newer IdleWatch".
    /// Version 4: the inventory's `macs` (an entry's declared MACs, comma-separated; `network` is '' for a host
    /// declared by its MAC alone).
    /// Version 3: the stages' internals are named, versioned sections (`sections`: name, version, data), one per
    /// stage and per detection, flows keyed by their flow keys; a stage changes its own layout by its section's
    /// version, without a new schema. A migrated file keeps its blobs until its first save replaces them (they are
    /// converted on reading); a new file's empty `blobs` table goes at once.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value ANY) STRICT;
                CREATE TABLE hosts (
                    address TEXT PRIMARY KEY NOT NULL, is_local INTEGER NOT NULL,
                    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
                    last_client INTEGER, last_server INTEGER,
                    packets_sent INTEGER NOT NULL, bytes_sent INTEGER NOT NULL,
                    flows_originated INTEGER NOT NULL, flows_answered INTEGER NOT NULL, arp_frames INTEGER NOT NULL,
                    learning_packets INTEGER NOT NULL, learning_flows INTEGER NOT NULL, peers INTEGER NOT NULL,
                    slot INTEGER NOT NULL, generation INTEGER NOT NULL, baseline BLOB NOT NULL) STRICT;
                CREATE TABLE services (
                    host TEXT NOT NULL, port INTEGER NOT NULL, protocol INTEGER NOT NULL,
                    first_served INTEGER NOT NULL, last_served INTEGER NOT NULL,
                    served_inside INTEGER NOT NULL, served_outside INTEGER NOT NULL, learned INTEGER NOT NULL,
                    sessions INTEGER NOT NULL, PRIMARY KEY (host, port, protocol)) STRICT;
                CREATE TABLE exposures (
                    host TEXT NOT NULL, port INTEGER NOT NULL, protocol INTEGER NOT NULL, source TEXT NOT NULL,
                    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, flows INTEGER NOT NULL,
                    stage TEXT NOT NULL, expected INTEGER NOT NULL, name TEXT NOT NULL,
                    PRIMARY KEY (host, port, protocol, source)) STRICT;
                CREATE TABLE inventory (
                    position INTEGER PRIMARY KEY, network TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL) STRICT;
                CREATE TABLE blobs (name TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL) STRICT;
                PRAGMA application_id = \(applicationID);
                PRAGMA user_version = 1;
                """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                CREATE TABLE sections (name TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL) STRICT;
                PRAGMA user_version = 3;
                """)
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM blobs") == 0 { try db.execute(sql: "DROP TABLE blobs") }
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                ALTER TABLE inventory ADD COLUMN macs TEXT NOT NULL DEFAULT '';
                PRAGMA user_version = 4;
                """)
        }
        return migrator
    }
}
