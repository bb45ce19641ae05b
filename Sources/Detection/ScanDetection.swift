// Rules host-scan and inbound-scan: one source with many failed TCP attempts in a short time. `host-scan` is a local
// host doing it (a taken-over server mapping the inside); `inbound-scan` is an outside source doing it to local
// addresses.
//
// A failed attempt is a flow whose originator sent a SYN and never got a SYN-ACK: unanswered (S0) or refused
// (REJ). It is counted when the flow ends (a refusal ends after the closed timeout, an unanswered attempt after the
// attempt timeout, or at the end of the input).
// Thresholds (Zeek's scan.zeek defaults): 15 distinct ports of one host (port scan) or 25 distinct hosts (address
// scan), within 5 minutes. Severity 2. One alert per scanner per suppression interval; what follows is counted.

import FlowTracking
import PacketDecoding
import SiteModel

struct ScanDetection {
    static let severity = 2
    let portScanThreshold = 15
    let addressScanThreshold = 25
    let window = Duration.seconds(300)
    /// Scanners tracked at once; the ones idle longest are forgotten beyond it.
    let scannerCapacity = 65_536

    struct ScannerState {
        var failedHosts: [IPAddress: Timestamp] = [:]
        var failedPorts: [IPAddress: [UInt16: Timestamp]] = [:]
        var last = Timestamp.zero
    }
    var scanners: [IPAddress: ScannerState] = [:]

    mutating func flow(_ context: FlowContext, ledger: inout AlertLedger) {
        let flow = context.flow
        guard context.event == .ended, flow.ipProtocol == IPProtocol.tcp,
            flow.originatorHistory.contains(.syn), !flow.raised.contains(.established)
        else { return }
        let rule: RuleID
        if context.originatorIsLocal {
            rule = .hostScan
        } else if context.responderIsLocal {
            rule = .inboundScan
        } else {
            return
        }
        let time = context.time
        if scanners[flow.originator] == nil && scanners.count >= scannerCapacity { forgetIdle(at: time) }
        var state = scanners[flow.originator] ?? ScannerState()
        state.last = time
        state.failedHosts = state.failedHosts.filter { time - $0.value <= window }
        state.failedHosts[flow.responder] = time
        var ports = (state.failedPorts[flow.responder] ?? [:]).filter { time - $0.value <= window }
        ports[flow.responderPort] = time
        state.failedPorts[flow.responder] = ports
        if state.failedPorts.count > addressScanThreshold * 4 {
            state.failedPorts = state.failedPorts.filter { $0.value.values.contains { time - $0 <= window } }
        }
        scanners[flow.originator] = state

        let kind: String, count: Int
        if ports.count >= portScanThreshold {
            (kind, count) = ("port", ports.count)
        } else if state.failedHosts.count >= addressScanThreshold {
            (kind, count) = ("address", state.failedHosts.count)
        } else {
            return
        }
        let scanner = flow.originator
        let local = rule == .hostScan ? scanner : flow.responder
        let entry = rule == .hostScan ? context.originatorEntry : context.responderEntry
        var alert = Alert(timestamp: time, rule: rule, severity: Self.severity, message: "", source: scanner,
                          destination: kind == "port" ? flow.responder : nil, ipProtocol: IPProtocol.tcp,
                          host: AlertHost(local, entry))
        let who = rule == .hostScan ? "local host \(entry.map { "\($0.name) (\(scanner))" } ?? "\(scanner)")"
            : "outside host \(scanner)"
        alert.message = kind == "port"
            ? "\(who) scanned \(count) ports of \(flow.responder) in \(formatDuration(window)), failing"
            : "\(who) scanned \(count) hosts in \(formatDuration(window)), failing"
        alert.reason = "\(kind)-scan"
        ledger.raise(alert, key: SuppressionKey(rule: rule, source: scanner))
    }

    mutating func forgetIdle(at time: Timestamp) {
        scanners = scanners.filter { time - $0.value.last <= window }
    }
}
