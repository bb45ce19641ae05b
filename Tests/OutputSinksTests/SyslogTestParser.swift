// A strict RFC 5424 parser for the tests: every field checked against section 6's ABNF, structured data unescaped
// per 6.3.3. It reads what rsyslog wrote, so a message the sink got wrong fails here, not in a collector later.

import Foundation

struct SyslogParameter: Equatable, CustomStringConvertible {
    var name: String
    var value: String

    var description: String { "\(name)=\(value)" }
}

struct SyslogElement: Equatable {
    var id: String
    var parameters: [SyslogParameter]

    subscript(name: String) -> String? { parameters.first { $0.name == name }?.value }
}

struct RFC5424Message: Equatable {
    var priority: Int
    var version: Int
    /// As written, or `-`.
    var timestamp: String
    var hostname: String
    var appName: String
    var procID: String
    var msgID: String
    var structuredData: [SyslogElement]
    /// Nil when the message has no MSG part.
    var message: String?
    /// MSG started with the UTF-8 BOM (removed from `message`).
    var hasBOM: Bool

    var facility: Int { priority / 8 }
    var severity: Int { priority % 8 }
}

struct RFC5424ParseError: Error, CustomStringConvertible {
    var offset: Int
    var expected: String
    var line: String

    var description: String { "byte \(offset): expected \(expected) in \(line.debugDescription)" }
}

/// Parses one line (without its newline) as RFC 5424 `SYSLOG-MSG`.
func parseRFC5424(_ line: String) throws -> RFC5424Message {
    var reader = StrictReader(bytes: Array(line.utf8), line: line)
    try reader.expect(UInt8(ascii: "<"), "'<'")
    let priorityDigits = try reader.digits(1...3, "PRIVAL")
    guard let priority = Int(priorityDigits), priority <= 191,
          priorityDigits == "0" || !priorityDigits.hasPrefix("0") else { throw reader.failure("PRIVAL 0-191") }
    try reader.expect(UInt8(ascii: ">"), "'>'")
    let versionDigits = try reader.digits(1...3, "VERSION")
    guard !versionDigits.hasPrefix("0"), let version = Int(versionDigits) else { throw reader.failure("VERSION") }
    try reader.expect(UInt8(ascii: " "), "SP after VERSION")
    let timestamp = try reader.token(1...64, "TIMESTAMP")
    guard timestamp == "-" || isRFC5424Timestamp(timestamp) else { throw reader.failure("TIMESTAMP (RFC 3339)") }
    try reader.expect(UInt8(ascii: " "), "SP after TIMESTAMP")
    let hostname = try reader.token(1...255, "HOSTNAME")
    try reader.expect(UInt8(ascii: " "), "SP after HOSTNAME")
    let appName = try reader.token(1...48, "APP-NAME")
    try reader.expect(UInt8(ascii: " "), "SP after APP-NAME")
    let procID = try reader.token(1...128, "PROCID")
    try reader.expect(UInt8(ascii: " "), "SP after PROCID")
    let msgID = try reader.token(1...32, "MSGID")
    try reader.expect(UInt8(ascii: " "), "SP after MSGID")
    var elements: [SyslogElement] = []
    if reader.peek == UInt8(ascii: "-") {
        reader.index += 1
    } else {
        repeat {
            elements.append(try reader.element())
        } while reader.peek == UInt8(ascii: "[")
    }
    var message: String?
    var hasBOM = false
    if !reader.atEnd {
        try reader.expect(UInt8(ascii: " "), "SP before MSG or the end")
        var rest = Array(reader.bytes[reader.index...])
        if rest.starts(with: [0xEF, 0xBB, 0xBF]) {
            hasBOM = true
            rest.removeFirst(3)
            guard String(validating: rest, as: UTF8.self) != nil else { throw reader.failure("UTF-8 after the BOM") }
        }
        message = String(decoding: rest, as: UTF8.self)
    }
    return RFC5424Message(priority: priority, version: version, timestamp: timestamp, hostname: hostname,
                          appName: appName, procID: procID, msgID: msgID, structuredData: elements,
                          message: message, hasBOM: hasBOM)
}

/// FULL-DATE "T" FULL-TIME, TIME-SECFRAC at most 6 digits, offset `Z` or `+hh:mm` (RFC 5424 6.2.3).
func isRFC5424Timestamp(_ text: String) -> Bool {
    let pattern = #"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"#
    return text.range(of: pattern, options: .regularExpression) != nil
}

private struct StrictReader {
    let bytes: [UInt8]
    let line: String
    var index = 0

    init(bytes: [UInt8], line: String) {
        self.bytes = bytes
        self.line = line
    }

    var atEnd: Bool { index == bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    func failure(_ expected: String) -> RFC5424ParseError {
        RFC5424ParseError(offset: index, expected: expected, line: line)
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard peek == byte else { throw failure(what) }
        index += 1
    }

    mutating func digits(_ count: ClosedRange<Int>, _ what: String) throws -> String {
        let start = index
        while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), index - start < count.upperBound {
            index += 1
        }
        guard count.contains(index - start) else { throw failure(what) }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// 1*n PRINTUSASCII (33-126), ending at SP or the end.
    mutating func token(_ length: ClosedRange<Int>, _ what: String) throws -> String {
        let start = index
        while let byte = peek, byte != UInt8(ascii: " ") {
            guard (33...126).contains(byte) else { throw failure("\(what): printable US-ASCII") }
            index += 1
        }
        guard length.contains(index - start) else { throw failure("\(what) of \(length) characters") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// SD-NAME: 1*32 PRINTUSASCII except `=`, SP, `]`, `"`.
    mutating func name(_ what: String) throws -> String {
        let start = index
        while let byte = peek, (33...126).contains(byte), ![UInt8(ascii: "="), UInt8(ascii: "]"), UInt8(ascii: "\"")]
            .contains(byte)
        {
            index += 1
        }
        guard (1...32).contains(index - start) else { throw failure(what) }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`; in a value `\"`, `\\` and `\]` stand for the character, any other
    /// backslash is itself, and an unescaped `]` is an error.
    mutating func element() throws -> SyslogElement {
        try expect(UInt8(ascii: "["), "'[' or '-' for STRUCTURED-DATA")
        let id = try name("SD-ID")
        var parameters: [SyslogParameter] = []
        while peek == UInt8(ascii: " ") {
            index += 1
            let parameterName = try name("PARAM-NAME")
            try expect(UInt8(ascii: "="), "'=' after PARAM-NAME")
            try expect(UInt8(ascii: "\""), "'\"' opening PARAM-VALUE")
            var value: [UInt8] = []
            while true {
                guard let byte = peek else { throw failure("'\"' closing PARAM-VALUE") }
                index += 1
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "]") { throw failure("']' escaped inside PARAM-VALUE") }
                if byte == UInt8(ascii: "\\"), let next = peek,
                   [UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]")].contains(next)
                {
                    value.append(next)
                    index += 1
                } else {
                    value.append(byte)
                }
            }
            guard let text = String(validating: value, as: UTF8.self) else { throw failure("UTF-8 PARAM-VALUE") }
            parameters.append(SyslogParameter(name: parameterName, value: text))
        }
        try expect(UInt8(ascii: "]"), "']' closing SD-ELEMENT")
        return SyslogElement(id: id, parameters: parameters)
    }
}
