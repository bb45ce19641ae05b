// The seam between the analysis and the places alerts go. A sink takes alerts (and, if it carries them, flow
// records) without ever making the analysis wait on a slow or absent destination (standard output in a replay is
// the one that waits, on purpose), is ticked periodically, closes within a bound with an account of what it
// delivered and lost, and can always say how it is doing in one line. The pipeline, the live loop and the replay see
// only this protocol: a new sink (HTTP, Kafka) is one file here that conforms, plus the line that builds it from its
// command-line option (Sources/idlewatch/SinkOptions.swift).

import Detection
import FlowTracking

public protocol AlertSink: AnyObject {
    /// What messages call it: `standard output`, `syslog tcp://127.0.0.1:514`.
    var name: String { get }
    /// Whether flow records go to it too when they are on (`--flows`). Default: alerts only.
    var takesFlowRecords: Bool { get }
    /// Takes the alert: formats it and hands it on or queues it, never waiting for the destination.
    func send(_ alert: Alert)
    /// Takes a closing record of what suppression held back (`event_type: "alert_summary"`), as `send` an alert.
    func send(heldBack record: HeldBackRecord)
    /// Takes the record of a flow that ended. Called only when `takesFlowRecords`; default: ignored.
    func send(flowRecord flow: Flow)
    /// Called periodically (the live loop every 50 ms; a replay after each batch that was not full, before each
    /// state save and at the end): hands buffers over, retries a connection that is due, writes what the
    /// destination takes now.
    func tick()
    /// Delivers what it holds within `seconds`, then counts what is left as lost and closes; what is sent later is
    /// counted as lost too. Returns the final account.
    func close(within seconds: Double) -> SinkReport
    /// How it is doing now (after `close`: its final account), for the statistics lines.
    var statusLine: String { get }
    /// What changed for the worse since the last call, each change once (the live loop reports them as they
    /// happen). Default: nothing.
    func takeNotices() -> [SinkNotice]
}

extension AlertSink {
    public var takesFlowRecords: Bool { false }
    public func send(flowRecord flow: Flow) {}
    public func takeNotices() -> [SinkNotice] { [] }
}

/// A sink's final account.
public struct SinkReport: Sendable, Equatable {
    public var name: String
    /// One line: what was delivered, queued and lost, and why (the sink's `statusLine` at the close).
    public var line: String
    /// Lines or messages that will never reach the destination.
    public var lost: UInt64
    /// One line on what was lost and why, or nil when nothing was.
    public var lossMessage: String?

    public init(name: String, line: String, lost: UInt64, lossMessage: String?) {
        self.name = name
        self.line = line
        self.lost = lost
        self.lossMessage = lossMessage
    }
}

/// A change for the worse in a sink's fortunes.
public enum SinkNotice: Sendable, Equatable {
    /// It does not keep up: alerts are being dropped from its full queue, and counted (it goes on).
    case fallingBehind(String)
    /// It failed for good (standard output closed by its reader): everything sent to it from now on is lost.
    case failed(String)
}

/// Every sink a run delivers to, in the order they were given: what the pipeline writes to.
public final class SinkSet {
    public let sinks: [AlertSink]
    let recordSinks: [AlertSink]

    public init(_ sinks: [AlertSink]) {
        self.sinks = sinks
        recordSinks = sinks.filter(\.takesFlowRecords)
    }

    public var isEmpty: Bool { sinks.isEmpty }

    public func send(_ alert: Alert) {
        for sink in sinks { sink.send(alert) }
    }

    public func send(heldBack record: HeldBackRecord) {
        for sink in sinks { sink.send(heldBack: record) }
    }

    public func send(flowRecord flow: Flow) {
        for sink in recordSinks { sink.send(flowRecord: flow) }
    }

    /// Ticks every sink: standard output hands its buffer over (in a replay, waits until it is written), network
    /// sinks write what their sockets take.
    public func flush() {
        for sink in sinks { sink.tick() }
    }

    /// Closes each sink in turn, each within `seconds`.
    public func close(within seconds: Double) -> [SinkReport] {
        sinks.map { $0.close(within: seconds) }
    }

    public var statusLines: [String] { sinks.map(\.statusLine) }
}
