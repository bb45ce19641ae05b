// Saving and restoring the open flows for the state file (section `flows`), so a flow that spans two runs (part 1
// and part 2 of a capture, or a restart of a live sensor) is one flow, as it would have been in one run. Flows are
// saved by identity, their flow key, never by their table position: the stages above key their own per-flow state
// by the same key (`FlowKey.encode`) and find the flow again with `openSlot(of:)`. Within each timeout class, flows
// keep their order of last activity (which decides expiry and eviction); positions are handed out afresh, which
// nothing observable depends on (flows end at the end of input in id order, expire and are evicted by class and
// age). Fragments awaiting their first fragment are not saved: they live for seconds, and a split within seconds
// of a fragmented datagram only loses the ports of its later fragments. Schema 2 files, whose flows were saved
// with their positions, are converted by `convertSchema2OpenFlows`.

import PacketDecoding
import StateCoding

extension FlowTable {
    /// The version of the `flows` section this build writes and reads: 2 added each side's MAC and whether the
    /// first frame went to a group MAC (version 1's flows restore without them: 0 and false).
    public static let openFlowsVersion = 2

    /// The table's clock, the next flow id and every open flow, class by class, oldest first in each.
    public func encodeOpenFlows(into writer: inout StateWriter) {
        writer.put(now)
        writer.put(nextSweep)
        writer.put(nextID)
        writer.putCount(activeCount)
        var first = true
        for index in openFlowSlots {
            let start = writer.count
            writer.put(UInt8(entries[Int(index)].timeoutClass.rawValue))
            Self.encode(entries[Int(index)], into: &writer)
            writer.put(entries[Int(index)].originatorMAC)
            writer.put(entries[Int(index)].responderMAC)
            writer.put(entries[Int(index)].firstFrameToGroupMAC)
            if first {
                // Every flow takes the same room: make it for all of them at once (a full table is tens of MB).
                writer.reserveCapacity(writer.count + (writer.count - start) * (activeCount - 1))
                first = false
            }
        }
    }

    /// Open flows' positions, class by class, oldest first in each (what the state file names flows by).
    public var openFlowSlots: [Int32] {
        var result: [Int32] = []
        result.reserveCapacity(activeCount)
        for c in TimeoutClass.allCases {
            var index = oldest[c.rawValue]
            while index >= 0 {
                result.append(index)
                index = entries[Int(index)].newer
            }
        }
        return result
    }

    /// The position of the open flow with `key`, if there is one (how the stages above find a saved flow again).
    public func openSlot(of key: FlowKey) -> Int32? {
        let index = find(key, hash: key.hash(seed: seed))
        return index < 0 ? nil : index
    }

    /// Puts saved flows back into an empty table, in their saved order (each class's order of last activity). More
    /// saved flows than this table holds (its capacity was lowered since) is an error: choosing which to drop would
    /// end flows no event reports.
    public mutating func restoreOpenFlows(from reader: inout StateReader, version: Int = openFlowsVersion) throws {
        precondition(activeCount == 0 && entries.isEmpty, "restore into an empty flow table")
        let savedNow = try reader.timestamp()
        let savedSweep = try reader.timestamp()
        let savedNextID = try reader.uint64()
        let linkLayerSize = version >= 2 ? 17 : 0
        let count = try reader.count(minimumItemSize: 1 + Self.savedFlowSize + linkLayerSize)
        guard count <= configuration.capacity else {
            throw StateDecodingError("\(count) saved open flows; this table holds \(configuration.capacity) (raise --flow-capacity)")
        }
        for _ in 0..<count {
            let rawClass = Int(try reader.uint8())
            guard let timeoutClass = TimeoutClass(rawValue: rawClass) else {
                throw StateDecodingError("a saved flow has timeout class \(rawClass)")
            }
            var flow = try Self.decodeFlow(from: &reader)
            if version >= 2 {
                flow.originatorMAC = try reader.uint64()
                flow.responderMAC = try reader.uint64()
                flow.firstFrameToGroupMAC = try reader.bool()
                guard flow.originatorMAC >> 48 == 0, flow.responderMAC >> 48 == 0 else {
                    throw StateDecodingError("saved flow \(flow.id) has a MAC address wider than 48 bits")
                }
            }
            let hash = flow.key.hash(seed: seed)
            guard flow.id < savedNextID, find(flow.key, hash: hash) < 0 else {
                throw StateDecodingError("saved flow \(flow.id) is a duplicate or from the future")
            }
            let index = Int32(entries.count)
            flow.slot = index
            flow.timeoutClass = timeoutClass
            entries.append(flow)
            storage.append(FlowStorage())
            self.index.insert(hash: hash, entry: index)
            linkNewest(index)
            activeCount += 1
        }
        freeList = []
        now = savedNow
        nextSweep = savedSweep
        nextID = savedNextID
    }

    /// A schema 2 file's `open_flows` (each flow with its table position) as a `flows` section, with the key of the
    /// flow each saved position held (the schema 2 detection state names flows by position).
    public static func convertSchema2OpenFlows(_ bytes: [UInt8]) throws -> (section: [UInt8], keys: [Int32: FlowKey]) {
        var reader = StateReader(bytes)
        var writer = StateWriter()
        writer.put(try reader.timestamp())
        writer.put(try reader.timestamp())
        writer.put(try reader.uint64())
        let count = try reader.count(minimumItemSize: 5 + savedFlowSize)
        writer.putCount(count)
        var keys: [Int32: FlowKey] = [:]
        for _ in 0..<count {
            let index = try reader.int32()
            writer.put(try reader.uint8())
            let flow = try decodeFlow(from: &reader)
            guard index >= 0, keys.updateValue(flow.key, forKey: index) == nil else {
                throw StateDecodingError("a saved flow sits at position \(index), negative or shared")
            }
            encode(flow, into: &writer)
        }
        guard reader.isAtEnd else { throw StateDecodingError("saved flows have trailing bytes") }
        return (writer.bytes, keys)
    }

    /// Bytes one saved flow takes (`encode`): its key, direction, id, times, six counters, TCP state and history,
    /// fragments and raised events.
    static let savedFlowSize = FlowKey.savedSize + 1 + 8 + 16 + 48 + 4 + 4 + 1

    static func encode(_ flow: Flow, into writer: inout StateWriter) {
        flow.key.encode(into: &writer)
        writer.put(flow.originatorIsA)
        writer.put(flow.id)
        writer.put(flow.firstSeen)
        writer.put(flow.lastSeen)
        for value in [flow.originatorPackets, flow.responderPackets, flow.originatorBytes, flow.responderBytes,
                      flow.originatorPayload, flow.responderPayload] {
            writer.put(value)
        }
        writer.put(flow.originatorState.rawValue)
        writer.put(flow.responderState.rawValue)
        writer.put(flow.originatorHistory.rawValue)
        writer.put(flow.responderHistory.rawValue)
        writer.put(flow.fragments)
        writer.put(flow.raised.rawValue)
    }

    static func decodeFlow(from reader: inout StateReader) throws -> Flow {
        let key = try FlowKey(from: &reader)
        var flow = Flow(key: key, originatorIsA: try reader.bool(), id: try reader.uint64(),
                        firstSeen: try reader.timestamp(), lastSeen: try reader.timestamp())
        flow.originatorPackets = try reader.uint64()
        flow.responderPackets = try reader.uint64()
        flow.originatorBytes = try reader.uint64()
        flow.responderBytes = try reader.uint64()
        flow.originatorPayload = try reader.uint64()
        flow.responderPayload = try reader.uint64()
        let originatorState = try reader.uint8(), responderState = try reader.uint8()
        guard let o = EndpointState(rawValue: originatorState), let r = EndpointState(rawValue: responderState) else {
            throw StateDecodingError("saved flow \(flow.id) has an unknown TCP state")
        }
        flow.originatorState = o
        flow.responderState = r
        flow.originatorHistory = TCPHistory(rawValue: try reader.uint8())
        flow.responderHistory = TCPHistory(rawValue: try reader.uint8())
        flow.fragments = try reader.uint32()
        flow.raised = FlowEventSet(rawValue: try reader.uint8())
        return flow
    }
}

extension FlowKey {
    /// Bytes a saved key takes: two addresses (17 each), two ports, the protocol and the VLAN ids.
    public static let savedSize = 17 + 17 + 2 + 2 + 1 + 4

    /// The flow's identity in the state file, for every stage that saves something per flow.
    public func encode(into writer: inout StateWriter) {
        writer.put(addressA)
        writer.put(addressB)
        writer.put(portA)
        writer.put(portB)
        writer.put(ipProtocol)
        writer.put(vlan)
    }

    public init(from reader: inout StateReader) throws {
        self.init(addressA: try reader.address(), addressB: try reader.address(), portA: try reader.uint16(),
                  portB: try reader.uint16(), ipProtocol: try reader.uint8(), vlan: try reader.uint32())
    }
}
