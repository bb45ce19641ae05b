// Syslog messages byte for byte (RFC 5424 with structured data, RFC 3164), the severity and facility mapping, and
// destination parsing with its errors. No collector needed: SyslogSinkTests sends these through a real rsyslogd.

import Detection
import OutputSinks
import PacketDecoding
import SiteModel
import Testing

/// Alerts that cover every structured-data parameter and every way one can be absent.
enum SyslogSamples {
    /// TCP to a maintenance port: all parameters, RFC 5424 escapes in two values, non-ASCII in the message.
    static var maintenance: Alert {
        var alert = Alert(
            timestamp: Timestamp(seconds: 1_795_255_445, nanoseconds: 123_456_789), rule: .maintenancePortInbound,
            severity: 1, message: "SSH session to caméra 7 from outside", reason: #"outside its window "02:00-04:00""#,
            stage: .session, source: IPAddress("203.0.113.7")!, sourcePort: 51515,
            destination: IPAddress("192.0.2.10")!, destinationPort: 22, ipProtocol: 6, flowID: 9,
            host: AlertHost(address: IPAddress("192.0.2.10")!, name: #"cam"era]\7"#, state: .idle))
        alert.id = 12
        alert.incident = 10
        return alert
    }

    /// ARP from a decommissioned host: no destination, ports, protocol, stage, reason or host name.
    static var decommissioned: Alert {
        var alert = Alert(
            timestamp: Timestamp(seconds: 1_772_870_950, nanoseconds: 1_000), rule: .decommissionedHostActive,
            severity: 2, message: "decommissioned host sent ARP", source: IPAddress("192.0.2.99")!,
            host: AlertHost(address: IPAddress("192.0.2.99")!, state: .decommissioned))
        alert.id = 13
        alert.incident = 13
        return alert
    }

    /// IPv6 UDP, severity 3, with earlier alerts held back.
    static var newService: Alert {
        var alert = Alert(
            timestamp: Timestamp(seconds: 1_795_255_500), rule: .newInboundService, severity: 3,
            message: "answered the outside on UDP/161 for the first time", stage: .open,
            source: IPAddress("2001:db8::7")!, sourcePort: 40000, destination: IPAddress("2001:db8::1")!,
            destinationPort: 161, ipProtocol: 17, flowID: 3,
            host: AlertHost(address: IPAddress("2001:db8::1")!, name: "printer", state: .active))
        alert.id = 14
        alert.incident = 10
        alert.suppressedBefore = 4
        return alert
    }

    static var all: [Alert] { [maintenance, decommissioned, newService] }

    /// A numbered alert for ordering tests: `alert.id == n`, the message says `number n`.
    static func numbered(_ n: UInt64) -> Alert {
        var alert = newService
        alert.id = n
        alert.incident = n
        alert.suppressedBefore = 0
        alert.message = "number \(n)"
        return alert
    }

    /// The structured-data parameters each alert must carry, written out by hand (not by the formatter).
    static func expectedParameters(_ alert: Alert) -> [SyslogParameter] {
        var parameters: [(String, String?)] = [("rule", alert.rule.rawValue), ("severity", String(alert.severity)),
                                                ("src", alert.source.description)]
        switch alert.id {
        case 12:
            parameters += [("srcport", "51515"), ("dst", "192.0.2.10"), ("dstport", "22"), ("proto", "TCP"),
                           ("stage", "session"), ("reason", #"outside its window "02:00-04:00""#)]
        case 13:
            break
        default:
            parameters += [("srcport", "40000"), ("dst", "2001:db8::1"), ("dstport", "161"), ("proto", "UDP"),
                           ("stage", "open")]
        }
        parameters += [("incident", String(alert.incident)), ("alert", String(alert.id)),
                       ("host", alert.host.address.description), ("hostname", alert.host.name),
                       ("hoststate", alert.host.state?.rawValue)]
        if let destination = alert.destination, let proto = alert.ipProtocol {
            parameters.append(("community_id", CommunityID.compute(
                source: alert.source, sourcePort: alert.sourcePort!, destination: destination,
                destinationPort: alert.destinationPort!, ipProtocol: proto)))
        }
        if alert.suppressedBefore > 0 { parameters.append(("suppressed", String(alert.suppressedBefore))) }
        return parameters.compactMap { name, value in value.map { SyslogParameter(name: name, value: $0) } }
    }
}

@Suite("Syslog format")
struct SyslogFormatTests {
    let formatter5424 = try! SyslogFormatter(format: .rfc5424, hostname: "sensor1", processID: 4242)
    let formatter3164 = try! SyslogFormatter(format: .rfc3164, hostname: "sensor1", processID: 4242)

    @Test("RFC 5424: header, escaped structured data, BOM before a non-ASCII MSG")
    func rfc5424Exact() {
        let alert = SyslogSamples.maintenance
        let communityID = CommunityID.compute(source: alert.source, sourcePort: 51515, destination: alert.destination!,
                                              destinationPort: 22, ipProtocol: 6)
        let expected = "<130>1 2026-11-21T10:04:05.123456Z sensor1 idlewatch 4242 maintenance-port-inbound "
            + #"[idlewatch@32473 rule="maintenance-port-inbound" severity="1" src="203.0.113.7" srcport="51515" "#
            + #"dst="192.0.2.10" dstport="22" proto="TCP" stage="session" reason="outside its window \"02:00-04:00\"" "#
            + #"incident="10" alert="12" host="192.0.2.10" hostname="cam\"era\]\\7" hoststate="idle" "#
            + #"community_id=""# + communityID + #""] "# + "\u{FEFF}2026-11-21T10:04:05.123456Z sev1 "
            + "maintenance-port-inbound [session] 203.0.113.7:51515 -> 192.0.2.10:22: SSH session to caméra 7 from "
            + "outside (alert 12, incident 10)"
        #expect(String(decoding: formatter5424.message(alert), as: UTF8.self) == expected)
    }

    @Test("RFC 5424: absent parameters are left out, ASCII MSG without BOM")
    func rfc5424Absent() throws {
        let bytes = formatter5424.message(SyslogSamples.decommissioned)
        #expect(String(decoding: bytes, as: UTF8.self) == "<132>1 2026-03-07T08:09:10.000001Z sensor1 idlewatch 4242 "
            + #"decommissioned-host-active [idlewatch@32473 rule="decommissioned-host-active" severity="2" "#
            + #"src="192.0.2.99" incident="13" alert="13" host="192.0.2.99" hoststate="decommissioned"] "#
            + "2026-03-07T08:09:10.000001Z sev2 decommissioned-host-active 192.0.2.99: decommissioned host sent ARP "
            + "(alert 13)")
        #expect(!bytes.contains(0xEF))
    }

    @Test("RFC 5424 output parses back to the alert's fields")
    func rfc5424RoundTrip() throws {
        for alert in SyslogSamples.all {
            let message = try parseRFC5424(String(decoding: formatter5424.message(alert), as: UTF8.self))
            #expect(message.msgID == alert.rule.rawValue)
            #expect(message.structuredData == [SyslogElement(id: "idlewatch@32473",
                                                             parameters: SyslogSamples.expectedParameters(alert))])
            #expect(message.message == AlertFormatter.text(alert))
        }
    }

    @Test("RFC 3164: space-padded day, UTC time, TAG[PID], text with rule and addresses")
    func rfc3164Exact() throws {
        #expect(formatter3164.rfc3164(SyslogSamples.decommissioned) == "<132>Mar  7 08:09:10 sensor1 idlewatch[4242]: "
            + "2026-03-07T08:09:10.000001Z sev2 decommissioned-host-active 192.0.2.99: decommissioned host sent ARP "
            + "(alert 13)")
        #expect(formatter3164.rfc3164(SyslogSamples.newService).hasPrefix(
            "<133>Nov 21 10:05:00 sensor1 idlewatch[4242]: 2026-11-21T10:05:00.000000Z sev3 new-inbound-service [open] "
                + "[2001:db8::7]:40000 -> [2001:db8::1]:161: "))
        var local = formatter3164
        local.omitsHostnameIn3164 = true
        #expect(local.rfc3164(SyslogSamples.decommissioned).hasPrefix("<132>Mar  7 08:09:10 idlewatch[4242]: 2026-"))
    }

    @Test("Alert severity to syslog severity: 1 crit, 2 warning, 3 notice, clamped outside")
    func severityMapping() {
        #expect(SyslogSeverity.forAlert(severity: 1) == .critical)
        #expect(SyslogSeverity.forAlert(severity: 2) == .warning)
        #expect(SyslogSeverity.forAlert(severity: 3) == .notice)
        #expect(SyslogSeverity.forAlert(severity: 0) == .critical)
        #expect(SyslogSeverity.forAlert(severity: 9) == .notice)
        #expect(SyslogFormatter.priority(facility: .local0, severity: .critical) == 130)
        #expect(SyslogFormatter.priority(facility: .daemon, severity: .warning) == 28)
        #expect(SyslogFormatter.priority(facility: .local7, severity: .notice) == 189)
    }

    @Test("Facilities by name")
    func facilities() throws {
        #expect(try SyslogFacility.parse("local0") == .local0)
        #expect(try SyslogFacility.parse("LOCAL7") == .local7)
        #expect(try SyslogFacility.parse("daemon") == .daemon)
        #expect(try SyslogFacility.parse("security") == .auth)
        #expect(try SyslogFacility.parse("authpriv").rawValue == 10)
        #expect(throws: SyslogError.unknownFacility("kern")) { try SyslogFacility.parse("kern") }
        #expect(throws: SyslogError.unknownFacility("local8")) { try SyslogFacility.parse("local8") }
        #expect(try SyslogMessageFormat.parse("RFC3164") == .rfc3164)
        #expect(throws: SyslogError.unknownFormat("json")) { try SyslogMessageFormat.parse("json") }
    }

    @Test("App names: printable ASCII, 1 to 48, no space, '[' or ':'")
    func appNames() throws {
        #expect(throws: SyslogError.invalidAppName("idle watch")) {
            try SyslogFormatter(format: .rfc5424, appName: "idle watch")
        }
        #expect(throws: SyslogError.invalidAppName("")) { try SyslogFormatter(format: .rfc5424, appName: "") }
        #expect(throws: SyslogError.invalidAppName(String(repeating: "a", count: 49))) {
            try SyslogFormatter(format: .rfc5424, appName: String(repeating: "a", count: 49))
        }
        let custom = try SyslogFormatter(format: .rfc5424, facility: .daemon, appName: "sensor-2.b", hostname: "h",
                                         processID: 1)
        #expect(String(decoding: custom.message(SyslogSamples.newService), as: UTF8.self)
            .hasPrefix("<29>1 2026-11-21T10:05:00.000000Z h sensor-2.b 1 new-inbound-service [idlewatch@32473 "))
    }

    @Test("Control characters in text are escaped as in the text line: one message, one line")
    func oneLine() throws {
        var alert = SyslogSamples.decommissioned
        alert.message = "two\nlines\0and a NUL"
        alert.reason = "tab\there"
        let text = String(decoding: formatter5424.message(alert), as: UTF8.self)
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 })
        #expect(text.contains(#"two\x0alines\x00and a NUL"#))
        // The escape's backslash is itself escaped inside PARAM-VALUE (RFC 5424 6.3.3).
        #expect(text.contains(#"reason="tab\\x09here""#))
    }

    @Test("Destinations parse, with defaults and IPv6 brackets")
    func destinations() throws {
        #expect(try SyslogDestination.parse("unix:/dev/log") == .unix(path: "/dev/log"))
        #expect(try SyslogDestination.parse("unix:") == .unix(path: "/dev/log"))
        #expect(try SyslogDestination.parse("unix:///run/collector.sock") == .unix(path: "/run/collector.sock"))
        #expect(try SyslogDestination.parse("udp://127.0.0.1:5514") == .udp(host: "127.0.0.1", port: 5514))
        #expect(try SyslogDestination.parse("UDP://collector.example") == .udp(host: "collector.example", port: 514))
        #expect(try SyslogDestination.parse("tcp://[2001:db8::1]:6514") == .tcp(host: "2001:db8::1", port: 6514))
        #expect(try SyslogDestination.parse("tcp://[::1]") == .tcp(host: "::1", port: 514))
        #expect(try SyslogDestination.parse("tcp://[::1]:601").description == "tcp://[::1]:601")
        #expect(try SyslogDestination.parse("unix:/dev/log").description == "unix:/dev/log")
    }

    @Test("Destination errors say what is wrong", arguments: [
        ("syslog://host:514", SyslogDestinationProblem.unknownScheme),
        ("/dev/log", .unknownScheme),
        ("udp://", .missingHost),
        ("udp://:514", .missingHost),
        ("tcp://host:0", .invalidPort("0")),
        ("tcp://host:65536", .invalidPort("65536")),
        ("tcp://host:", .invalidPort("")),
        ("tcp://host:514/x", .invalidPort("514/x")),
        ("udp://2001:db8::1:514", .ipv6WithoutBrackets),
        ("udp://[2001:db8::1:514", .unterminatedBracket),
        ("udp://[::1]514", .invalidPort("514")),
        ("udp://user@host:514", .invalidHost("user@host")),
    ])
    func destinationErrors(text: String, problem: SyslogDestinationProblem) {
        #expect(throws: SyslogError.invalidDestination(text, problem)) { try SyslogDestination.parse(text) }
    }

    @Test("A socket path longer than sun_path is refused")
    func longSocketPath() {
        let path = "/" + String(repeating: "a", count: 120)
        #expect(throws: SyslogError.invalidDestination("unix:" + path, .socketPathTooLong(bytes: 121, maximum: 107))) {
            try SyslogDestination.parse("unix:" + path)
        }
        #expect(SyslogError.invalidDestination("x", .unknownScheme).description
            == "syslog destination 'x': expected unix:PATH, udp://HOST:PORT or tcp://HOST:PORT")
    }

    @Test("A host name that does not resolve fails when the sink is made, with getaddrinfo's words")
    func unresolvable() {
        #expect(throws: SyslogError.self) {
            try SyslogSink(destination: .udp(host: "no-such-host.invalid", port: 514))
        }
        #expect(throws: SyslogError.invalidQueueCapacity(0)) {
            try SyslogSink(destination: .udp(host: "127.0.0.1", port: 514), queueCapacity: 0)
        }
    }
}
