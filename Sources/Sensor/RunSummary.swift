// The end-of-run summary on standard error: what was read, what was made of it, and what was skipped and why.

import Detection
import FlowTracking
import OutputSinks
import PacketDecoding
import SiteModel

public enum RunSummary {
    public static func render(
        decode: DecodeCounters, flows: FlowCounters, files: Int, skippedFiles: Int, errors: [String],
        engine: DetectionEngine? = nil, flowCapacity: Int? = nil, timeOutliers: UInt64 = 0,
        firstTimeOutlier: Timestamp? = nil
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
            + "\(flows.reused) reused, \(flows.evicted) evicted; peak \(flows.peakActive) at once"
            + (flowCapacity.map { " of \($0)" } ?? "") + ")")
        if flows.evicted > 0 {
            // Which flows made room tells whether a flood pushed out its own debris or real connections.
            let parts = TimeoutClass.evictionOrder.compactMap { c -> String? in
                let n = flows.evictedByClass[c.rawValue]
                return n > 0 ? "\(n) \(c.name)" : nil
            }
            lines.append("  evicted flows: \(parts.joined(separator: ", "))")
        }
        if flows.fragmentsMatched + flows.fragmentsUnmatched + flows.fragmentsForgotten > 0 {
            lines.append("  fragments: \(flows.fragmentsMatched) matched to their flow, "
                + "\(flows.fragmentsUnmatched) without a first fragment"
                + (flows.fragmentsForgotten > 0
                    ? "; \(flows.fragmentsForgotten) first fragments forgotten to make room" : ""))
        }
        if flows.fragmentsHeld > 0 {
            // IPv4 TCP headers split across fragments (RFC 1858), reassembled as Linux does (FlowTracking/Reassembly).
            lines.append("  reassembly: \(flows.fragmentsHeld) fragments held for a TCP header split across fragments; "
                + "\(flows.datagramsReassembled) datagrams reassembled, dropped as Linux drops them: "
                + "\(flows.datagramsOverlapping) overlapping, \(flows.datagramsInconsistent) inconsistent, "
                + "\(flows.datagramsInTooManyPieces) in too many pieces; \(flows.datagramsIncomplete) incomplete")
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
            let h = hosts.counters
            if h.evictedLocal + h.evictedExternal + h.servicesDropped + engine.counters.hostsReattached > 0 {
                var parts = ["\(h.evictedLocal) local (of \(hosts.configuration.localCapacity) held), "
                    + "\(h.evictedExternal) outside (of \(hosts.configuration.externalCapacity))"]
                if engine.counters.hostsReattached > 0 {
                    parts.append("\(engine.counters.hostsReattached) found again for their open flows")
                }
                if h.servicesDropped > 0 { parts.append("\(h.servicesDropped) services not learned (ledger full)") }
                lines.append("  evicted hosts: \(parts.joined(separator: "; "))")
            }
            let links = engine.links.counters
            if links.entriesEvicted + links.macsForgotten + engine.leaseChanges > 0 {
                var parts: [String] = []
                if links.entriesEvicted > 0 {
                    parts.append("\(links.entriesEvicted) addresses evicted (of \(engine.hosts.configuration.bindingCapacity) held)")
                }
                if links.macsForgotten > 0 { parts.append("\(links.macsForgotten) MACs forgotten (over 4 on an address)") }
                if engine.leaseChanges > 0 {
                    parts.append("\(engine.leaseChanges) lease changes to a new MAC, not alerted (randomised or DHCP-given)")
                }
                lines.append("  MAC bindings: \(parts.joined(separator: "; "))")
            }
            let forgotten = engine.forgotten.filter { $0.value > 0 }
            if !forgotten.isEmpty {
                lines.append("  detection state forgotten to stay bounded: "
                    + forgotten.map { "\($0.value) \($0.label)" }.joined(separator: ", "))
            }
        }
        if timeOutliers > 0 {
            lines.append("  timestamps: \(timeOutliers) packet\(timeOutliers == 1 ? "" : "s") stamped more than \(PacketClock.aheadLimitText) ahead of "
                + "the packets around \(timeOutliers == 1 ? "it" : "them"), not analysed (the first stamped "
                + "\(firstTimeOutlier?.rfc3339(fractionDigits: 6) ?? "?"); the clock did not follow)")
        }
        if skippedFiles > 0 {
            lines.append("  not captures: \(skippedFiles) file\(skippedFiles == 1 ? "" : "s") in the given directories")
        }
        // Errors name files, and file names come from directories anyone may write to: escaped, one line each.
        for error in errors { lines.append("  error: \(DisplayText.escaped(error))") }
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
        if keeper.latestSaveFailed {
            // The end of the run could not be saved: say so, and what the file holds instead.
            var failed = "  state: NOT saved at the end of the run (\(keeper.lastError ?? "?")); the file holds "
            if keeper.saves > 0 {
                failed += "this run's last good save (\(keeper.saves) of \(keeper.saves + keeper.failures))"
                if let clock = keeper.lastSavedClock { failed += ", at packet time \(clock.rfc3339(fractionDigits: 6))" }
                failed += "; a rerun with the same --state redoes what came after it"
            } else {
                failed += "no save from this run"
            }
            lines.append(failed)
        } else {
            var saved = "  state: saved \(keeper.saves) time\(keeper.saves == 1 ? "" : "s")"
            if let clock = keeper.lastSavedClock { saved += ", last at packet time \(clock.rfc3339(fractionDigits: 6))" }
            saved += "; \(pipeline.flows.activeCount) flows left open in it for the next run"
            lines.append(saved)
        }
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
