// Reading the state file's rows without trusting them. The tables are STRICT with NOT NULL, but a file edited with
// sqlite3 (a table recreated without its constraints, `PRAGMA writable_schema`, `ignore_check_constraints`) can hold
// anything: a NULL, text where a number belongs, a blob, a number out of range. GRDB's `row["column"] as Int64`
// traps on those; every value read here is checked instead (column present, storage class, range), and a mismatch is
// a `StateFileError` naming the file, the table, the row and the column.

import GRDB
import PacketDecoding

struct CheckedRow {
    let row: Row
    let path: String
    let table: String
    /// The row's position in the order it was read (1 = first), for the message.
    let number: Int
    /// What identifies the row to a person (`address 10.0.0.1`), once its key column was read.
    var key: String?

    init(_ row: Row, path: String, table: String, number: Int) {
        self.row = row
        self.path = path
        self.table = table
        self.number = number
    }

    func failure(_ column: String, _ problem: String) -> StateFileError {
        StateFileError(path, "the state file is damaged: table \(table), row \(number)"
            + (key.map { " (\($0))" } ?? "") + ", column \(column): \(problem); refusing to use it")
    }

    func value(_ column: String) throws -> DatabaseValue {
        guard row.hasColumn(column) else { throw failure(column, "missing") }
        // Reading a DatabaseValue never fails: it is whatever SQLite holds, NULL included.
        return row[column] as DatabaseValue
    }

    static func describe(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: return "NULL"
        case .int64(let n): return "the integer \(n)"
        case .double(let d): return "the real number \(d)"
        case .string(let s): return "the text '\(s.prefix(40))'"
        case .blob(let d): return "a blob of \(d.count) bytes"
        }
    }

    /// An integer in `range`; `expected` says what belongs there, for the message.
    func integer(_ column: String, in range: ClosedRange<Int64> = .min ... .max, expected: String = "an integer")
        throws -> Int64
    {
        let value = try value(column)
        guard case .int64(let number) = value.storage else {
            throw failure(column, "\(CheckedRow.describe(value)) where \(expected) belongs")
        }
        guard range.contains(number) else {
            throw failure(column, "\(number) is out of range for \(expected) (\(range.lowerBound) to \(range.upperBound))")
        }
        return number
    }

    /// An integer or NULL.
    func optionalInteger(_ column: String, expected: String = "an integer") throws -> Int64? {
        if case .null = try value(column).storage { return nil }
        return try integer(column, expected: expected)
    }

    /// A counter: saved as a signed integer, never negative.
    func count(_ column: String) throws -> UInt64 {
        UInt64(try integer(column, in: 0 ... .max, expected: "a count"))
    }

    /// A packet time (nanoseconds since 1970): any integer is one.
    func timestamp(_ column: String) throws -> Timestamp {
        Timestamp(nanoseconds: try integer(column, expected: "a time in nanoseconds"))
    }

    func optionalTimestamp(_ column: String) throws -> Timestamp? {
        try optionalInteger(column, expected: "a time in nanoseconds").map(Timestamp.init(nanoseconds:))
    }

    /// A boolean, saved as 0 or 1.
    func flag(_ column: String) throws -> Bool {
        try integer(column, in: 0...1, expected: "a flag (0 or 1)") == 1
    }

    func text(_ column: String) throws -> String {
        let value = try value(column)
        guard case .string(let text) = value.storage else {
            throw failure(column, "\(CheckedRow.describe(value)) where text belongs")
        }
        return text
    }

    func blob(_ column: String) throws -> [UInt8] {
        let value = try value(column)
        guard case .blob(let data) = value.storage else {
            throw failure(column, "\(CheckedRow.describe(value)) where a blob belongs")
        }
        return [UInt8](data)
    }

    func address(_ column: String) throws -> IPAddress {
        let text = try text(column)
        guard let address = IPAddress(text) else { throw failure(column, "'\(text.prefix(60))' is not an address") }
        return address
    }
}
