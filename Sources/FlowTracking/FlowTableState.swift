// Saving and restoring the open flows for the state file, so a flow that spans two runs (part 1 and part 2 of a
// capture, or a restart of a live sensor) is one flow, as it would have been in one run. Flows keep their table
// positions (the detection state's section names its flows by position, as schema 2 files do; the stage that owns
// each flow's storage writes it back once the flows are restored) and, within each timeout class, their order of
// last activity (which decides expiry and eviction). Fragments awaiting their first fragment are not saved: they
// live for seconds, and a split within seconds of a fragmented datagram only loses the ports of its later fragments.

import PacketDecoding
import StateCoding

extension FlowTable {
    /// The table's clock, the next flow id and every open flow with its position, oldest first in each class.
    public func encodeOpenFlows(into writer: inout StateWriter) {
        writer.put(now)
        writer.put(nextSweep)
        writer.put(nextID)
        writer.putCount(activeCount)
        var first = true
        for index in openFlowSlots {
            let start = writer.count
            writer.put(index)
            writer.put(UInt8(entries[Int(index)].timeoutClass.rawValue))
            encode(entries[Int(index)], into: &writer)
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

    /// Puts saved flows back into an empty table. A saved position beyond this table's capacity (the capacity was
    /// lowered since) is an error: the stages above could not follow the flow to a new position.
    public mutating func restoreOpenFlows(from reader: inout StateReader) throws {
        precondition(activeCount == 0, "restore into an empty flow table")
        let savedNow = try reader.timestamp()
        let savedSweep = try reader.timestamp()
        let savedNextID = try reader.uint64()
        let count = try reader.count(minimumItemSize: 100)
        var used = [Bool](repeating: false, count: configuration.capacity)
        for _ in 0..<count {
            let index = try reader.int32()
            guard index >= 0 && Int(index) < configuration.capacity else {
                throw StateDecodingError("a saved flow sits at position \(index); this table holds \(configuration.capacity) (raise --flow-capacity)")
            }
            guard !used[Int(index)] else { throw StateDecodingError("two saved flows share position \(index)") }
            let rawClass = Int(try reader.uint8())
            guard let timeoutClass = TimeoutClass(rawValue: rawClass) else {
                throw StateDecodingError("a saved flow has timeout class \(rawClass)")
            }
            var flow = try decodeFlow(from: &reader)
            let hash = flow.key.hash(seed: seed)
            guard flow.id < savedNextID, find(flow.key, hash: hash) < 0 else {
                throw StateDecodingError("saved flow \(flow.id) is a duplicate or from the future")
            }
            used[Int(index)] = true
            flow.slot = index
            flow.timeoutClass = timeoutClass
            while entries.count <= Int(index) {
                entries.append(FlowTable.unusedEntry)
                storage.append(FlowStorage())
            }
            entries[Int(index)] = flow
            self.index.insert(hash: hash, entry: index)
            linkNewest(index)
            activeCount += 1
        }
        // The gaps below the highest saved position, lowest first out (as a table that never restarted hands
        // them out); positions above it are added as needed.
        freeList = (0..<Int32(entries.count)).reversed().filter { !used[Int($0)] }
        now = savedNow
        nextSweep = savedSweep
        nextID = savedNextID
    }

    func encode(_ flow: Flow, into writer: inout StateWriter) {
        writer.put(flow.key.addressA)
        writer.put(flow.key.addressB)
        writer.put(flow.key.portA)
        writer.put(flow.key.portB)
        writer.put(flow.key.ipProtocol)
        writer.put(flow.key.vlan)
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

    func decodeFlow(from reader: inout StateReader) throws -> Flow {
        let key = FlowKey(addressA: try reader.address(), addressB: try reader.address(), portA: try reader.uint16(),
                          portB: try reader.uint16(), ipProtocol: try reader.uint8(), vlan: try reader.uint32())
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
