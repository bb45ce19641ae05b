// Alerts as syslog messages: RFC 5424 with an `idlewatch@32473` structured-data element for collectors that parse
// it, RFC 3164 (the BSD format) for old ones. Framing for the wire is the sink's business, not the formatter's.

import Detection
import Glibc
import PacketDecoding
import SiteModel

public enum SyslogMessageFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.
    case rfc5424
    /// `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`.
    case rfc3164

    public var description: String { rawValue }
}

/// Syslog facilities an alert may be filed under, with RFC 5424 table 1 codes. `kern` is left out (only the kernel
/// may use it); the rest of syslog.h's list is here for sites that route by facility.
public enum SyslogFacility: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case user = 1
    case mail = 2
    case daemon = 3
    /// "security/authorization messages"; `security` is accepted as a name for it, as glibc's `facilitynames` does.
    case auth = 4
    case syslog = 5
    case lpr = 6
    case news = 7
    case uucp = 8
    case cron = 9
    case authpriv = 10
    case ftp = 11
    case local0 = 16, local1, local2, local3, local4, local5, local6, local7

    /// The name as syslog.conf and rsyslog write it: `local0`, `daemon`, `auth`...
    public var description: String {
        switch self {
        case .user: "user"
        case .mail: "mail"
        case .daemon: "daemon"
        case .auth: "auth"
        case .syslog: "syslog"
        case .lpr: "lpr"
        case .news: "news"
        case .uucp: "uucp"
        case .cron: "cron"
        case .authpriv: "authpriv"
        case .ftp: "ftp"
        case .local0: "local0"
        case .local1: "local1"
        case .local2: "local2"
        case .local3: "local3"
        case .local4: "local4"
        case .local5: "local5"
        case .local6: "local6"
        case .local7: "local7"
        }
    }

    /// `local0`, `LOCAL0`, `daemon`, `security` (= `auth`); nil for anything else.
    public init?(name: String) {
        let lowered = name.lowercased()
        if lowered == "security" {
            self = .auth
            return
        }
        guard let facility = SyslogFacility.allCases.first(where: { $0.description == lowered }) else { return nil }
        self = facility
    }

    public static func parse(_ name: String) throws(SyslogError) -> SyslogFacility {
        guard let facility = SyslogFacility(name: name) else { throw .unknownFacility(name) }
        return facility
    }
}

/// Syslog severities (RFC 5424 table 2) and the mapping from alert severity.
public enum SyslogSeverity: UInt8, Sendable, CaseIterable {
    case emergency = 0, alert, critical, error, warning, notice, informational, debug

    /// Alert severity 1 (highest) -> critical, 2 -> warning, 3 -> notice.
    ///
    /// Why: `emergency` and `alert` mean the system itself is unusable or must be fixed now, which a sensor cannot
    /// know; a decommissioned host talking is `critical`, one notch above what a failing service logs. `error` is
    /// skipped so that severity 2 and 1 stay apart in filters (`*.crit` catches only severity 1, `*.warning` 1
    /// and 2). Severity 3 is `notice`: "normal but significant", what a new service or a scan summary is. Values
    /// outside 1...3 are clamped, so a future severity 0 still pages someone and a 4 is still logged.
    public static func forAlert(severity: Int) -> SyslogSeverity {
        switch severity {
        case ...1: .critical
        case 2: .warning
        default: .notice
        }
    }
}

/// Renders alerts as syslog messages, without framing.
public struct SyslogFormatter: Sendable {
    /// The SD-ID of IdleWatch's structured-data element. RFC 5424 7.2.2 requires `NAME@PEN` for private SD-IDs;
    /// 32473 is the Private Enterprise Number that RFC 5612 reserves for documentation examples. A site that owns
    /// a PEN can keep this one: collectors match on the whole SD-ID, and this one is not anyone's.
    public static let structuredDataID = "idlewatch@32473"
    /// RFC 5424 6.4: a MSG that starts with this is UTF-8.
    public static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    public var format: SyslogMessageFormat
    public var facility: SyslogFacility
    /// APP-NAME (RFC 5424) or TAG (RFC 3164): 1 to 48 printable ASCII characters.
    public var appName: String
    /// HOSTNAME: `gethostname()` by default, `-` (RFC 5424 NILVALUE) when it is unknown.
    public var hostname: String
    public var processID: Int32
    /// RFC 3164 on a local socket leaves HOSTNAME out, as glibc's syslog(3) does: rsyslog's and journald's
    /// `/dev/log` readers take the word after the timestamp as the tag.
    public var omitsHostnameIn3164: Bool

    public init(format: SyslogMessageFormat, facility: SyslogFacility = .local0, appName: String = "idlewatch",
                hostname: String = SyslogFormatter.localHostname(), processID: Int32 = getpid(),
                omitsHostnameIn3164: Bool = false) throws(SyslogError) {
        guard SyslogFormatter.isValidAppName(appName) else { throw .invalidAppName(appName) }
        self.format = format
        self.facility = facility
        self.appName = appName
        self.hostname = SyslogFormatter.headerField(hostname, maximumLength: 255)
        self.processID = processID
        self.omitsHostnameIn3164 = omitsHostnameIn3164
    }

    /// RFC 5424 APP-NAME: 1*48 PRINTUSASCII (no space). RFC 3164's TAG is stricter (alphanumeric, 32), but every
    /// collector in use accepts dashes and dots, and the default name is both.
    public static func isValidAppName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 48 && name.utf8.allSatisfy { (33...126).contains($0) }
            && !name.contains("[") && !name.contains(":")
    }

    /// This machine's name, or `-` when gethostname fails or returns nothing printable.
    public static func localHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "-" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return headerField(name, maximumLength: 255)
    }

    /// PRI = facility * 8 + severity (RFC 5424 6.2.1).
    public static func priority(facility: SyslogFacility, severity: SyslogSeverity) -> Int {
        Int(facility.rawValue) * 8 + Int(severity.rawValue)
    }

    public func priority(of alert: Alert) -> Int {
        SyslogFormatter.priority(facility: facility, severity: .forAlert(severity: alert.severity))
    }

    /// The message as bytes, ready for framing.
    public func message(_ alert: Alert) -> [UInt8] {
        switch format {
        case .rfc5424: rfc5424(alert)
        case .rfc3164: Array(rfc3164(alert).utf8)
        }
    }

    /// `<130>1 2026-11-21T10:04:05.123456Z sensor1 idlewatch 4242 maintenance-port-inbound [idlewatch@32473 ...] TEXT`,
    /// TEXT being `AlertFormatter.text`, preceded by the UTF-8 BOM only when it holds a non-ASCII character.
    ///
    /// Why the BOM only then: RFC 5424 6.4 wants a BOM on UTF-8 text, but a pure-ASCII MSG is the same bytes in
    /// any encoding (MSG-ANY), and rsyslog copies a BOM into `%msg%`, where it breaks `grep '^'` and field
    /// extraction downstream. Host names from the site file are the only source of non-ASCII text.
    public func rfc5424(_ alert: Alert) -> [UInt8] {
        var header = "<\(priority(of: alert))>1 " + alert.timestamp.rfc3339(fractionDigits: 6) + " " + hostname + " "
        header += appName + " " + String(processID) + " "
        header += SyslogFormatter.headerField(alert.rule.rawValue, maximumLength: 32) + " "
        header += structuredData(alert) + " "
        let text = SyslogFormatter.oneLine(AlertFormatter.text(alert))
        var bytes = Array(header.utf8)
        if text.utf8.contains(where: { $0 >= 0x80 }) { bytes += SyslogFormatter.byteOrderMark }
        bytes += text.utf8
        return bytes
    }

    /// `<130>Nov 21 10:04:05 sensor1 idlewatch[4242]: TEXT` with the packet time in UTC (RFC 3164 has no zone and
    /// no year; TEXT starts with the full RFC 3339 time and carries rule, severity, addresses and ports).
    public func rfc3164(_ alert: Alert) -> String {
        rfc3164Header(priority: priority(of: alert), time: alert.timestamp) + SyslogFormatter.oneLine(AlertFormatter.text(alert))
    }

    /// `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: ` for `time` in UTC.
    func rfc3164Header(priority: Int, time: Timestamp) -> String {
        let civil = CivilTime(secondsSinceEpoch: time.seconds)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        var line = "<\(priority)>" + months[Int(civil.month) - 1] + " "
        line += (civil.day < 10 ? " " : "") + String(civil.day) + " "
        line += twoDigits(civil.hour) + ":" + twoDigits(civil.minute) + ":" + twoDigits(civil.second) + " "
        if !omitsHostnameIn3164 { line += hostname + " " }
        line += appName + "[" + String(processID) + "]: "
        return line
    }

    /// `[idlewatch@32473 rule="..." severity="1" src="..." ...]`; parameters the alert does not have are left out.
    public func structuredData(_ alert: Alert) -> String {
        SyslogFormatter.element { parameter in
            let ports = AlertFormatter.hasPorts(alert)
            parameter("rule", alert.rule.rawValue)
            parameter("severity", String(alert.severity))
            parameter("src", alert.source.description)
            parameter("srcport", ports ? alert.sourcePort.map { String($0) } : nil)
            parameter("dst", alert.destination?.description)
            parameter("dstport", ports ? alert.destinationPort.map { String($0) } : nil)
            parameter("proto", alert.ipProtocol.map { FlowRecordFormatter.protocolName($0) })
            parameter("stage", alert.stage?.description)
            parameter("reason", alert.reason)
            parameter("incident", String(alert.incident))
            parameter("alert", String(alert.id))
            parameter("host", alert.host.address.description)
            parameter("hostname", alert.host.name)
            parameter("hoststate", alert.host.state?.rawValue)
            parameter("community_id", AlertFormatter.communityID(alert))
            parameter("suppressed", alert.suppressedBefore > 0 ? String(alert.suppressedBefore) : nil)
            parameter("srcmac", alert.link.sourceMAC != 0 ? MACAddress(alert.link.sourceMAC).description : nil)
            parameter("dstmac", alert.link.destinationMAC != 0 ? MACAddress(alert.link.destinationMAC).description : nil)
            let vlans = alert.link.vlans
            parameter("vlan", vlans.isEmpty ? nil : vlans.map { String($0) }.joined(separator: ","))
            if let flow = alert.flowSoFar {
                parameter("pkts_toserver", String(flow.packetsToServer))
                parameter("pkts_toclient", String(flow.packetsToClient))
                parameter("bytes_toserver", String(flow.bytesToServer))
                parameter("bytes_toclient", String(flow.bytesToClient))
                parameter("flow_start", flow.start.rfc3339(fractionDigits: 6))
                parameter("flow_age", decimalSeconds(flow.age.nanoseconds, digits: 6))
            }
            SyslogFormatter.tallyParameters(alert.tally, parameter)
            if let before = alert.beforeSilence {
                parameter("last_active_before", before.lastActive.rfc3339(fractionDigits: 6))
                if let peer = before.lastPeer {
                    parameter("last_peer", peer.description)
                    parameter("last_service", AlertFormatter.service(port: before.lastPort, ipProtocol: before.lastProtocol))
                    parameter("last_role", before.lastAsServer ? "server" : "client")
                }
            }
        }
    }

    /// The counts behind a threshold, named as in the JSON's `alert` object.
    static func tallyParameters(_ tally: AlertTally, _ parameter: (String, String?) -> Void) {
        parameter("ports_tried", tally.portsTried.map { String($0) })
        parameter("hosts_tried", tally.hostsTried.map { String($0) })
        parameter("sessions", tally.sessions.map { String($0) })
        parameter("session_shortest", tally.shortestSession.map { decimalSeconds($0.nanoseconds, digits: 6) })
        parameter("session_median", tally.medianSession.map { decimalSeconds($0.nanoseconds, digits: 6) })
        parameter("session_longest", tally.longestSession.map { decimalSeconds($0.nanoseconds, digits: 6) })
    }

    /// A closing record of what suppression held back (AlertLedger.swift) as bytes, ready for framing: severity
    /// `notice` (a count, not an intrusion), MSGID `alert-summary`, its own structured data, and its text line.
    public func message(_ record: HeldBackRecord) -> [UInt8] {
        let priority = SyslogFormatter.priority(facility: facility, severity: .notice)
        let text = SyslogFormatter.oneLine(AlertFormatter.text(record))
        switch format {
        case .rfc5424:
            var header = "<\(priority)>1 " + record.timestamp.rfc3339(fractionDigits: 6) + " " + hostname + " "
            header += appName + " " + String(processID) + " alert-summary " + structuredData(record) + " "
            var bytes = Array(header.utf8)
            if text.utf8.contains(where: { $0 >= 0x80 }) { bytes += SyslogFormatter.byteOrderMark }
            bytes += text.utf8
            return bytes
        case .rfc3164:
            return Array((rfc3164Header(priority: priority, time: record.timestamp) + text).utf8)
        }
    }

    /// `[idlewatch@32473 event="alert_summary" rule="..." held="985" alert="12" ...]`.
    public func structuredData(_ record: HeldBackRecord) -> String {
        SyslogFormatter.element { parameter in
            parameter("event", "alert_summary")
            parameter("rule", record.rule.rawValue)
            parameter("src", record.interface == nil ? record.source.description : nil)
            parameter("interface", record.interface)
            parameter("dst", record.destination?.description)
            parameter("dstport", record.port.map { String($0) })
            parameter("held", String(record.held))
            parameter("alert", record.alert > 0 ? String(record.alert) : nil)
            parameter("first_held", record.firstHeld.rfc3339(fractionDigits: 6))
            parameter("last_held", record.lastHeld.rfc3339(fractionDigits: 6))
            parameter("detail", record.detail.isEmpty ? nil : record.detail)
            parameter("reason", record.occasion.rawValue)
            SyslogFormatter.tallyParameters(record.tally, parameter)
        }
    }

    /// One SD-ELEMENT, `[idlewatch@32473 NAME="VALUE" ...]`: `fill` gives the parameters in order; a nil value is
    /// left out, and every value is escaped (DisplayText, one line, RFC 5424's three characters).
    static func element(_ fill: (_ parameter: (String, String?) -> Void) -> Void) -> String {
        var element = "[" + structuredDataID
        fill { name, value in
            guard let value else { return }
            element += " " + name + "=\""
            appendEscapedParameterValue(oneLine(DisplayText.escaped(value)), to: &element)
            element += "\""
        }
        return element + "]"
    }

    /// RFC 5424 6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with a backslash; nothing else is.
    public static func appendEscapedParameterValue(_ value: String, to text: inout String) {
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"", "\\", "]":
                text += "\\"
                text.unicodeScalars.append(scalar)
            default:
                text.unicodeScalars.append(scalar)
            }
        }
    }

    /// A header field (HOSTNAME, MSGID): printable ASCII without spaces, at most `maximumLength`; `-` when empty.
    static func headerField(_ value: String, maximumLength: Int) -> String {
        let bytes = value.utf8.prefix(maximumLength).map { (33...126).contains($0) ? $0 : UInt8(ascii: "_") }
        return bytes.isEmpty ? "-" : String(decoding: bytes, as: UTF8.self)
    }

    /// One line: control characters (newline, tab, NUL) become spaces, so a message never splits a collector's
    /// line or ends a NUL-terminated frame early. A second guard: what reaches it is escaped already
    /// (`AlertFormatter.text`, `DisplayText.escaped` for parameters), so nothing is left to replace.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var result = ""
        result.unicodeScalars.append(contentsOf: text.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7F ? " " : $0
        })
        return result
    }
}

private func twoDigits(_ value: Int64) -> String {
    value < 10 ? "0" + String(value) : String(value)
}
