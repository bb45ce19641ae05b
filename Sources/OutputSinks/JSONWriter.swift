// A small JSON object writer that keeps keys in the order they are written (EVE readers expect `timestamp` first)
// and escapes strings per RFC 8259, plus the characters DisplayText never shows raw.

import SiteModel

public struct JSONObjectWriter {
    public private(set) var text = "{"
    var first = true

    public init() {}

    mutating func key(_ name: String) {
        if !first { text += "," }
        first = false
        text += "\""
        text += name
        text += "\":"
    }

    public mutating func string(_ name: String, _ value: String) {
        key(name)
        JSONObjectWriter.appendEscaped(value, to: &text)
    }

    public mutating func number<T: BinaryInteger>(_ name: String, _ value: T) {
        key(name)
        text += String(value)
    }

    /// A decimal with `digits` fraction digits (durations in seconds).
    public mutating func decimal(_ name: String, nanoseconds: Int64, digits: Int = 6) {
        key(name)
        text += decimalSeconds(nanoseconds, digits: digits)
    }

    public mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    public mutating func null(_ name: String) {
        key(name)
        text += "null"
    }

    /// A nested object or array already rendered as JSON.
    public mutating func raw(_ name: String, _ json: String) {
        key(name)
        text += json
    }

    public mutating func object(_ name: String, _ build: (inout JSONObjectWriter) -> Void) {
        var nested = JSONObjectWriter()
        build(&nested)
        raw(name, nested.finish())
    }

    public func finish() -> String { text + "}" }

    public static func appendEscaped(_ value: String, to text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where DisplayText.isUnsafe(scalar):
                // Controls below 0x20 as RFC 8259 requires; DEL, C1, U+2028/U+2029 and the bidirectional overrides
                // too, which JSON allows raw but which end lines or reorder text in viewers and in JavaScript.
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}

/// Nanoseconds as seconds with `digits` fraction digits (truncated): `decimalSeconds(1_203_000_000, digits: 3)` is
/// `1.203`.
public func decimalSeconds(_ nanoseconds: Int64, digits: Int) -> String {
    let magnitude = nanoseconds.magnitude
    var fraction = magnitude % 1_000_000_000
    for _ in digits..<9 { fraction /= 10 }
    let fractionText = String(fraction)
    let whole = (nanoseconds < 0 ? "-" : "") + String(magnitude / 1_000_000_000)
    guard digits > 0 else { return whole }
    return whole + "." + String(repeating: "0", count: max(0, digits - fractionText.count)) + fractionText
}
