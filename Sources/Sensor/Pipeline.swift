// The per-packet pipeline: capture -> decode -> flows -> records. One instance serves a replay or a live capture,
// so the same packets give the same output whichever way they arrive.

import FlowTracking
import OutputSinks
import PacketCapture
import PacketDecoding

public struct PipelineConfiguration: Sendable {
    public var flows = FlowTableConfiguration()
    /// Write a record for every flow that ends.
    public var writeFlows = false
    public var format = OutputFormat.text

    public init() {}
}

/// Writes ended flows to the output when flow records are on.
public struct FlowRecordSink: FlowEventHandler {
    public let output: BufferedOutput?
    public let format: OutputFormat

    public init(output: BufferedOutput?, format: OutputFormat) {
        self.output = output
        self.format = format
    }

    public mutating func flowEvent(_ event: FlowEvent, _ flow: Flow, at time: Timestamp) {
        guard event == .ended, let output else { return }
        output.writeLine(format == .json ? FlowRecordFormatter.json(flow) : FlowRecordFormatter.text(flow))
    }
}

public struct Pipeline: PacketHandler {
    public private(set) var decode = DecodeCounters()
    public private(set) var flows: FlowTable
    var records: FlowRecordSink
    var summary = PacketSummary()
    /// Called every `progressInterval` packets (for a progress line); nil for none.
    public var progress: ((UInt64) -> Void)?
    public var progressInterval: UInt64 = 1 << 16

    public init(configuration: PipelineConfiguration, output: BufferedOutput?) {
        flows = FlowTable(configuration: configuration.flows)
        records = FlowRecordSink(output: configuration.writeFlows ? output : nil, format: configuration.format)
    }

    public mutating func handle(_ packet: CapturedPacket) {
        PacketDecoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: packet.linkType, into: &summary)
        decode.count(summary, at: packet.timestamp, wireLength: packet.wireLength)
        _ = flows.process(summary, at: packet.timestamp, wireLength: packet.wireLength, handler: &records)
        if let progress, decode.packets % progressInterval == 0 { progress(decode.packets) }
    }

    /// Ends every open flow (end of input) so nothing already seen is lost.
    public mutating func finish() {
        flows.endAll(handler: &records)
        records.output?.flush()
    }
}
