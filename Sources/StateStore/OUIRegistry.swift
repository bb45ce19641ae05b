// Vendors of MAC blocks (OUIs, IEEE MA-L), for the hosts report: read from the IEEE's public list as Debian's
// `ieee-data` package ships it (/usr/share/ieee-data/oui.txt, or oui.csv; public domain), only by the hosts command,
// and only for the blocks the report needs. One pass over the file's bytes (5 MB: a few milliseconds), no line
// strings made except for the names kept. A file that is absent or unreadable gives no vendors, never an error.

import Foundation
import Glibc
import PacketDecoding

public struct OUIRegistry: Sendable {
    /// Where Debian's `ieee-data` puts the list, in the order tried.
    public static let defaultPaths = ["/usr/share/ieee-data/oui.txt", "/usr/share/ieee-data/oui.csv"]

    /// Vendor names by OUI (the MAC's first three bytes), for the blocks asked for that the file lists.
    public private(set) var vendors: [UInt32: String] = [:]
    /// The file read.
    public let path: String

    /// Reads `path` (the text form, `00-22-72   (hex)\t\tName`, or the CSV form, `MA-L,002272,Name,...`), keeping
    /// the names of the OUIs in `wanted`; nil when the file cannot be read.
    public init?(path: String, wanted: Set<UInt32>) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        self.path = path
        guard !wanted.isEmpty else { return }
        let csv = path.hasSuffix(".csv")
        var found: [UInt32: String] = [:]
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            let bytes = base.assumingMemoryBound(to: UInt8.self), count = raw.count
            var start = 0
            while start < count {
                // memchr finds each line's end, and only lines shaped like an entry are parsed: a byte loop over the
                // 5 MB took most of a second in a debug build.
                let newline: UnsafeMutableRawPointer? = memchr(base + start, 0x0A, count - start)
                let end = newline.map { base.distance(to: UnsafeRawPointer($0)) } ?? count
                let line = UnsafeBufferPointer(start: bytes + start, count: end - start)
                let shaped = csv ? line.count > 9 : line.count > 16 && line[2] == 0x2D && line[5] == 0x2D
                if shaped, let (oui, name) = csv ? Self.csvLine(line) : Self.textLine(line), wanted.contains(oui),
                   found[oui] == nil, let text = Self.name(line[name])
                {
                    found[oui] = text
                }
                start = end + 1
            }
        }
        vendors = found
    }

    /// The first registry file of `paths` that can be read, for the OUIs of `macs`.
    public static func load(macs: [MACAddress], paths: [String] = defaultPaths) -> OUIRegistry? {
        let wanted = Set(macs.filter { !$0.isLocallyAdministered && !$0.isGroup }.map(\.oui))
        for path in paths { if let registry = OUIRegistry(path: path, wanted: wanted) { return registry } }
        return nil
    }

    /// The vendor of `mac`'s block, if listed (never for a locally administered MAC: no vendor's block).
    public func vendor(of mac: MACAddress) -> String? {
        mac.isLocallyAdministered ? nil : vendors[mac.oui]
    }

    static func hex(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        default: nil
        }
    }

    /// Six hex digits from `start` of `line` (in pairs `step` apart: 3 for `00-22-72`, 2 for `002272`), as an OUI.
    static func oui(_ line: UnsafeBufferPointer<UInt8>, from start: Int, step: Int) -> UInt32? {
        var value: UInt32 = 0
        for pair in 0..<3 {
            for digit in 0..<2 {
                let offset = start + pair * step + digit
                guard offset < line.count, let nibble = hex(line[offset]) else { return nil }
                value = value << 4 | nibble
            }
        }
        return value
    }

    /// The name in `bytes`, trimmed of spaces, tabs and the CR of CRLF lines; nil when empty.
    static func name(_ bytes: UnsafeBufferPointer<UInt8>.SubSequence) -> String? {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == UInt8(ascii: "\"") }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return nil }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    static let hexMarker = Array("(hex)".utf8)

    /// `00-22-72   (hex)\t\tAmerican Micro-Fuel Device Corp.`: the OUI and where the name is.
    static func textLine(_ line: UnsafeBufferPointer<UInt8>) -> (UInt32, Range<Int>)? {
        guard line.count > 16, line[2] == UInt8(ascii: "-"), line[5] == UInt8(ascii: "-"),
              let oui = oui(line, from: 0, step: 3)
        else { return nil }
        var i = 8
        while i < line.count && line[i] == 0x20 { i += 1 }
        guard i + hexMarker.count <= line.count, line[i..<(i + hexMarker.count)].elementsEqual(hexMarker) else { return nil }
        return (oui, (i + hexMarker.count)..<line.count)
    }

    /// `MA-L,002272,American Micro-Fuel Device Corp.,2181 Buchanan Loop ...` (the name quoted when it holds a comma).
    static func csvLine(_ line: UnsafeBufferPointer<UInt8>) -> (UInt32, Range<Int>)? {
        guard let comma = line.firstIndex(of: UInt8(ascii: ",")), comma + 8 < line.count,
              line[comma + 7] == UInt8(ascii: ","), let oui = oui(line, from: comma + 1, step: 2)
        else { return nil }
        let start = comma + 8
        var end = start
        if line[start] == UInt8(ascii: "\"") {
            end = start + 1
            while end < line.count && line[end] != UInt8(ascii: "\"") { end += 1 }
            end = min(end + 1, line.count)
        } else {
            while end < line.count && line[end] != UInt8(ascii: ",") { end += 1 }
        }
        return (oui, start..<end)
    }
}
