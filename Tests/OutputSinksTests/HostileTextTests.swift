// Names carrying every character that could forge a record or hide text, through every alert writer: the text line,
// the JSON line (which must parse back to the name), RFC 5424 (which must parse, with the name in its parameter) and
// RFC 3164. Each record stays one line with no raw control, separator or bidirectional override.

import Detection
import Foundation
import OutputSinks
import PacketDecoding
import SiteModel
import Testing

/// Each hostile character, with what it does: ends a line, returns the cursor, ends a C string, starts a terminal
/// escape, a tab, DEL, C1 NEL and CSI, Unicode line and paragraph separators, bidi override, isolate and mark.
let hostileScalars: [UInt32] = [0x0A, 0x0D, 0x00, 0x1B, 0x09, 0x7F, 0x85, 0x9B, 0x2028, 0x2029, 0x202E, 0x2066, 0x200F]

func hostileName(_ scalar: UInt32) -> String {
    "cam" + String(Unicode.Scalar(scalar)!) + "2026-11-21T10:00:00.000000Z sev1 decommissioned-host-active forged"
}

func noUnsafe(_ text: String) -> Bool { !text.unicodeScalars.contains(where: DisplayText.isUnsafe) }

func hostileAlert(_ name: String) -> Alert {
    var alert = Alert(
        timestamp: Timestamp(seconds: 1_795_255_445), rule: .maintenancePortInbound, severity: 1,
        message: "outside host 203.0.113.7 reached maintenance port \(name) (192.0.2.10:22/tcp) which should be closed",
        reason: "closed", stage: .session, source: IPAddress("203.0.113.7")!, sourcePort: 51515,
        destination: IPAddress("192.0.2.10")!, destinationPort: 22, ipProtocol: 6, flowID: 9,
        host: AlertHost(address: IPAddress("192.0.2.10")!, name: name, state: .idle))
    alert.id = 3
    alert.incident = 1
    return alert
}

@Suite struct HostileTextTests {
    @Test("Alert text lines escape the name: one line, no raw control, the escape visible", arguments: hostileScalars)
    func textLine(_ scalar: UInt32) {
        let line = AlertFormatter.text(hostileAlert(hostileName(scalar)))
        #expect(noUnsafe(line) && !line.contains("\n"), "\(line.debugDescription)")
        let escape = scalar < 0x100 ? String(format: "\\x%02x", scalar) : String(format: "\\u%04x", scalar)
        #expect(line.contains("maintenance port cam\(escape)2026-11-21T10:00:00.000000Z sev1"), "\(line.debugDescription)")
        #expect(line.hasSuffix("(alert 3, incident 1)"))
    }

    @Test("JSON lines escape C1, U+2028 and bidi characters too, and parse back to the exact name", arguments: hostileScalars)
    func jsonLine(_ scalar: UInt32) throws {
        let name = hostileName(scalar)
        let line = AlertFormatter.json(hostileAlert(name))
        #expect(noUnsafe(line) && !line.contains("\n"), "\(line.debugDescription)")
        // RFC 8259's short forms for the three it has, \u escapes for the rest.
        let escape = [0x0A: #"\n"#, 0x0D: #"\r"#, 0x09: #"\t"#][scalar] ?? String(format: "\\u%04x", scalar)
        #expect(line.contains("cam" + escape + "2026"), "\(line)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect((object["host"] as? [String: Any])?["name"] as? String == name)
        #expect(((object["alert"] as? [String: Any])?["message"] as? String)?.contains(name) == true)
    }

    @Test("RFC 5424: the message and the hostname parameter are escaped, and the message parses", arguments: hostileScalars)
    func syslog5424(_ scalar: UInt32) throws {
        let formatter = try SyslogFormatter(format: .rfc5424, hostname: "sensor1", processID: 4242)
        let text = String(decoding: formatter.message(hostileAlert(hostileName(scalar))), as: UTF8.self)
        #expect(noUnsafe(text), "\(text.debugDescription)")
        let parsed = try parseRFC5424(text)
        let shown = DisplayText.escaped(hostileName(scalar))
        #expect(parsed.structuredData.first?["hostname"] == shown)
        #expect(parsed.message?.contains("maintenance port \(shown) (192.0.2.10:22/tcp)") == true)
    }

    @Test("RFC 3164: one line, no raw control", arguments: hostileScalars)
    func syslog3164(_ scalar: UInt32) throws {
        let formatter = try SyslogFormatter(format: .rfc3164, hostname: "sensor1", processID: 4242)
        let text = String(decoding: formatter.message(hostileAlert(hostileName(scalar))), as: UTF8.self)
        #expect(noUnsafe(text) && text.contains("maintenance port \(DisplayText.escaped(hostileName(scalar)))"))
    }

    @Test("Capture-health lines escape the interface name")
    func interfaceName() {
        var alert = Alert(timestamp: Timestamp(seconds: 1_795_255_445), rule: .captureLoss, severity: 2,
                          message: "lost packets", source: .unspecified, host: AlertHost(address: .unspecified))
        alert.interface = "eth0\n2026 forged"
        let line = AlertFormatter.text(alert)
        #expect(line.contains(#"eth0\x0a2026 forged: lost packets"#) && noUnsafe(line), "\(line)")
    }

    @Test("Escaping leaves ordinary text alone and bounds long text at an escape boundary")
    func escaping() {
        for text in ["old-erp", "caméra 7", #"CORP\fileserver"#, "名前", "👩‍💻 desk"] {
            #expect(DisplayText.escaped(text) == text)
        }
        #expect(DisplayText.escaped("a\u{1b}[31mred\u{202e}") == #"a\x1b[31mred\u202e"#)
        let cut = DisplayText.escaped(String(repeating: "\u{1b}", count: 100), maximumBytes: 10)
        #expect(cut == #"\x1b..."#)
        #expect(DisplayText.escaped(String(repeating: "é", count: 10), maximumBytes: 8) == "éé...")
    }
}
