// The end-of-run summary on standard error: what was read, what was made of it, and what was skipped and why.

import Detection
import FlowTracking
import OutputSinks
import PacketDecoding

public enum RunSummary {
    public static func render(
        decode: DecodeCounters, flows: FlowCounters, files: Int, skippedFiles: Int, errors: [String],
        engine: DetectionEngine? = nil
    ) -> String {
        var lines: [String] = []
        var head = "idlewatch: \(files) file\(files == 1 ? "" : "s"), \(decode.packets) packets, \(decode.wireBytes) bytes"
        if let first = decode.first, let last = decode.last {
            head += ", \(first.rfc3339(fractionDigits: 6)) to \(last.rfc3339(fractionDigits: 6))"
            head += " (\(span(last - first)))"
        }
        lines.append(head)
        lines.append("  decoded: \(decode.ipv4) IPv4, \(decode.ipv6) IPv6, \(decode.arp) ARP"
            + (decode.outOfOrder > 0 ? "; \(decode.outOfOrder) out of timestamp order" : ""))
        lines.append("  flows: \(flows.created) (\(flows.timedOut) timed out, \(flows.endedAtEndOfInput) open at end, "
            + "\(flows.reused) reused, \(flows.evicted) evicted; peak \(flows.peakActive) at once)")
        if flows.fragmentsMatched + flows.fragmentsUnmatched > 0 {
            lines.append("  fragments: \(flows.fragmentsMatched) matched to their flow, "
                + "\(flows.fragmentsUnmatched) without a first fragment")
        }
        if decode.ipLengthInferred > 0 {
            lines.append("  offload: \(decode.ipLengthInferred) IPv4 packets with total length 0, taken to the end of the frame")
        }
        if flows.withoutPorts > 0 {
            lines.append("  without ports: \(flows.withoutPorts) TCP/UDP packets cut before their ports")
        }
        let truncated = decode.count(.truncated)
        if truncated > 0 {
            let layers = Layer.allCases.compactMap { layer -> String? in
                let n = decode.truncatedAt[Int(layer.rawValue)]
                return n > 0 ? "\(layer) \(n)" : nil
            }
            lines.append("  truncated by snapshot length: \(truncated) (cut in: \(layers.joined(separator: ", ")))")
        }
        if decode.skipped > 0 {
            var parts = StopReason.allCases.filter(\.isSkipped).compactMap { reason -> String? in
                let n = decode.count(reason)
                return n > 0 && reason != .unsupportedLinkType ? "\(reason) \(n)" : nil
            }
            for (linkType, n) in decode.unsupportedLinkTypes.sorted(by: { $0.key < $1.key }) {
                parts.append("link type \(LinkType(rawValue: linkType)) \(n)")
            }
            lines.append("  skipped: \(decode.skipped) (\(parts.joined(separator: ", ")))")
        }
        if decode.malformed > 0 {
            let parts = StopReason.allCases.filter(\.isMalformed).compactMap { reason -> String? in
                let n = decode.count(reason)
                return n > 0 ? "\(reason) \(n)" : nil
            }
            lines.append("  malformed: \(decode.malformed) (\(parts.joined(separator: ", ")))")
        }
        if let engine {
            let ledger = engine.ledger
            let hosts = engine.hosts
            var line = "  hosts: \(hosts.count) (\(hosts.counters.evictedLocal + hosts.counters.evictedExternal) evicted); "
                + "alerts: \(ledger.raised)"
            let byRule = RuleID.allCases.compactMap { rule -> String? in
                let n = ledger.raisedByRule[rule] ?? 0
                return n > 0 ? "\(rule.rawValue) \(n)" : nil
            }
            if !byRule.isEmpty { line += " (\(byRule.joined(separator: ", ")))" }
            if ledger.suppressed > 0 { line += "; \(ledger.suppressed) repeats held back by suppression" }
            lines.append(line)
        }
        if skippedFiles > 0 {
            lines.append("  not captures: \(skippedFiles) file\(skippedFiles == 1 ? "" : "s") in the given directories")
        }
        for error in errors { lines.append("  error: \(error)") }
        return lines.joined(separator: "\n")
    }

    /// The state file's part of the summary: what the run started from, what it skipped, what it saved.
    public static func renderState(_ keeper: StateKeeper, pipeline: Pipeline) -> String {
        var lines: [String] = []
        if let restored = keeper.restored {
            let clock = restored.clock.map { " up to \($0.rfc3339(fractionDigits: 6))" } ?? ""
            lines.append("  state: \(keeper.file.path): continued from \(restored.packets) packets analysed before\(clock) "
                + "(\(restored.hosts) hosts, \(restored.flows) open flows)")
        } else {
            lines.append("  state: \(keeper.file.path): new")
        }
        if pipeline.skippedAsAnalysed > 0 {
            lines.append("  state: \(pipeline.skippedAsAnalysed) packets skipped: the state already accounts for them "
                + "(they are not later than its clock); use another --state to analyse them again")
        }
        var saved = "  state: saved \(keeper.saves) time\(keeper.saves == 1 ? "" : "s")"
        if pipeline.clock.nanoseconds != Int64.min { saved += ", last at packet time \(pipeline.clock.rfc3339(fractionDigits: 6))" }
        saved += "; \(pipeline.flows.activeCount) flows left open in it for the next run"
        lines.append(saved)
        if keeper.failures > 0 {
            lines.append("  state: \(keeper.failures) saves failed; last: \(keeper.lastError ?? "?")")
        }
        return lines.joined(separator: "\n")
    }
}

/// A time span for people: `70.092 s`, `2h 3m`, `15d 0h`.
func span(_ duration: Duration) -> String {
    let seconds = duration.nanoseconds / 1_000_000_000
    if seconds < 3600 { return decimalSeconds(duration.nanoseconds, digits: 3) + " s" }
    if seconds < 86_400 { return "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
    return "\(seconds / 86_400)d \(seconds % 86_400 / 3600)h"
}
