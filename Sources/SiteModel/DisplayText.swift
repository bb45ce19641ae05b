// Text from outside the program (site-file names, keys and values quoted in messages, paths, names read back from a
// state file) on its way into one-line outputs. One table says which characters could forge a line or hide what is
// written: the site-file loader refuses them in names, and every writer escapes them, so both agree.

public enum DisplayText {
    /// Longest name the site file may give a host or a maintenance port, in UTF-8 bytes: a DNS name's size. Names
    /// end up in every alert line and in report columns padded to the widest cell, so an unbounded one multiplies.
    public static let maximumNameBytes = 256

    /// Characters that are never shown raw: C0 controls (NUL, tab, LF, CR, ESC...), DEL, C1 controls (NEL U+0085,
    /// CSI U+009B...), LINE and PARAGRAPH SEPARATOR (U+2028, U+2029: line ends to JavaScript and some viewers), and
    /// the bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which make a
    /// terminal show text in another order than it is written (CVE-2021-42574, "Trojan Source").
    @inlinable
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x20 || (value >= 0x7F && value <= 0x9F) { return true }
        guard value >= 0x061C else { return false }
        return value == 0x061C || value == 0x200E || value == 0x200F || value == 0x2028 || value == 0x2029
            || (value >= 0x202A && value <= 0x202E) || (value >= 0x2066 && value <= 0x2069)
    }

    /// Whether `text` holds a character `isUnsafe` refuses.
    public static func needsEscaping(_ text: String) -> Bool {
        text.unicodeScalars.contains(where: isUnsafe)
    }

    /// `text` with every unsafe character written as an escape: `\xHH` below U+0100 (`\x0a` for a newline, `\x1b`
    /// for ESC), `\uHHHH` above (`\u202e`). Other text, backslashes included, is unchanged: a site file cannot hold
    /// the raw characters (the loader refuses them), so an escape in a name loaded from one is the name's own text.
    public static func escaped(_ text: String) -> String {
        guard needsEscaping(text) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) { appendEscape(scalar, to: &result) } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }

    /// As `escaped`, then cut to at most `maximumBytes` UTF-8 bytes (between characters, never inside an escape)
    /// with `...` added when anything was cut: for report cells, whose column is as wide as its widest cell.
    public static func escaped(_ text: String, maximumBytes: Int) -> String {
        let shown = escaped(text)
        guard shown.utf8.count > maximumBytes else { return shown }
        var result = ""
        var bytes = 0
        let budget = max(0, maximumBytes - 3)
        var piece = ""
        for scalar in text.unicodeScalars {
            piece.removeAll(keepingCapacity: true)
            if isUnsafe(scalar) { appendEscape(scalar, to: &piece) } else { piece.unicodeScalars.append(scalar) }
            if bytes + piece.utf8.count > budget { break }
            result += piece
            bytes += piece.utf8.count
        }
        return result + "..."
    }

    static func appendEscape(_ scalar: Unicode.Scalar, to text: inout String) {
        let hex = String(scalar.value, radix: 16)
        if scalar.value < 0x100 {
            text += "\\x" + (hex.count < 2 ? "0" : "") + hex
        } else {
            text += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }

    /// `U+001B (ESC)`: how a site-file message names a refused character.
    public static func describe(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        let names: [UInt32: String] = [
            0x00: "NUL", 0x09: "tab", 0x0A: "line feed", 0x0D: "carriage return", 0x1B: "ESC", 0x7F: "DEL",
            0x85: "NEL", 0x9B: "CSI", 0x061C: "ARABIC LETTER MARK", 0x200E: "LEFT-TO-RIGHT MARK",
            0x200F: "RIGHT-TO-LEFT MARK", 0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR",
            0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING", 0x202C: "POP DIRECTIONAL FORMATTING",
            0x202D: "LEFT-TO-RIGHT OVERRIDE", 0x202E: "RIGHT-TO-LEFT OVERRIDE", 0x2066: "LEFT-TO-RIGHT ISOLATE",
            0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE", 0x2069: "POP DIRECTIONAL ISOLATE",
        ]
        if let name = names[scalar.value] { return "\(code) (\(name))" }
        let value = scalar.value
        return value < 0x20 || value == 0x7F ? "\(code) (a control character)"
            : value >= 0x80 && value <= 0x9F ? "\(code) (a C1 control character)" : code
    }
}
