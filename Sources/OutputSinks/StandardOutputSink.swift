// Standard output as a sink: alerts and flow records as text or EVE-style JSON lines, one after the other in the
// order they were raised, through a BufferedOutput (in a replay it waits for its reader; live it drops the oldest,
// counted). The lines are exactly those the pipeline wrote before the sinks had a protocol (the golden baselines).

import Detection
import FlowTracking
import Glibc

public final class StandardOutputSink: AlertSink {
    public let output: BufferedOutput
    public let format: OutputFormat
    /// The account `close` took, once it has.
    public private(set) var finalStatistics: BufferedOutput.Statistics?
    private var reportedFailure = false
    private var reportedDrops: UInt64 = 0

    public init(output: BufferedOutput, format: OutputFormat) {
        self.output = output
        self.format = format
    }

    public var name: String { "standard output" }
    public var takesFlowRecords: Bool { true }

    public func send(_ alert: Alert) {
        output.writeLine(format == .json ? AlertFormatter.json(alert) : AlertFormatter.text(alert))
    }

    public func send(heldBack record: HeldBackRecord) {
        output.writeLine(format == .json ? AlertFormatter.json(record) : AlertFormatter.text(record))
    }

    public func send(flowRecord flow: Flow) {
        output.writeLine(format == .json ? FlowRecordFormatter.json(flow) : FlowRecordFormatter.text(flow), kind: .record)
    }

    /// Hands the buffered lines to the writer thread: live, at once; in a replay, waiting until they are written.
    public func tick() {
        output.flush()
    }

    /// What every line given became, now or (after `close`) finally.
    public var statistics: BufferedOutput.Statistics { finalStatistics ?? output.statistics }

    public func close(within seconds: Double) -> SinkReport {
        let statistics = finalStatistics ?? output.close(waitingUpTo: seconds)
        finalStatistics = statistics
        return SinkReport(name: name, line: statistics.description, lost: statistics.lost.total,
                          lossMessage: statistics.lossMessage)
    }

    public var statusLine: String { statistics.description }

    /// Once when lines begin to be dropped (its reader does not keep up), once when a write fails.
    public func takeNotices() -> [SinkNotice] {
        let statistics = output.statistics
        var notices: [SinkNotice] = []
        if statistics.dropped.total > reportedDrops {
            if reportedDrops == 0 {
                notices.append(.fallingBehind(
                    "standard output does not keep up (its reader stopped reading?): its queue is full, the oldest "
                        + "lines are dropped and counted (see the statistics lines)"))
            }
            reportedDrops = statistics.dropped.total
        }
        if let failure = statistics.failure, !reportedFailure {
            reportedFailure = true
            notices.append(.failed(failure == EPIPE ? "standard output closed by its reader"
                                   : "standard output: \(String(cString: strerror(failure)))"))
        }
        return notices
    }
}
