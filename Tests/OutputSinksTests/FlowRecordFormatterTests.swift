// Flow records: the JSON line's keys, order and escaping, and the text line a person reads.

import FlowTracking
import Foundation
import OutputSinks
import PacketDecoding
import Testing

func sampleFlow() -> Flow {
    let start = Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789)
    var flow = Flow(
        key: FlowKey(addressA: IPAddress("10.0.0.1")!, addressB: IPAddress("10.0.0.2")!, portA: 40000, portB: 22,
                     ipProtocol: 6, vlan: 100 << 16),
        originatorIsA: true, id: 7, firstSeen: start, lastSeen: start + .milliseconds(1500))
    flow.originatorPackets = 5
    flow.responderPackets = 4
    flow.originatorBytes = 400
    flow.responderBytes = 900
    flow.originatorPayload = 100
    flow.responderPayload = 500
    flow.originatorState = .closed
    flow.responderState = .closed
    return flow
}

@Suite("Flow records")
struct FlowRecordFormatterTests {
    @Test("JSON: EVE keys, timestamp first, RFC 3339 with microseconds, conn_state")
    func json() throws {
        let line = FlowRecordFormatter.json(sampleFlow())
        #expect(line.hasPrefix(#"{"timestamp":"2023-11-14T22:13:21.623456Z","flow_id":7,"event_type":"flow","vlan":[100],"src_ip":"10.0.0.1","src_port":40000,"dest_ip":"10.0.0.2","dest_port":22,"proto":"TCP","community_id":"1:"#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let flow = try #require(object["flow"] as? [String: Any])
        #expect(flow["pkts_toserver"] as? Int == 5)
        #expect(flow["bytes_toclient"] as? Int == 900)
        #expect(flow["start"] as? String == "2023-11-14T22:13:20.123456Z")
        #expect(flow["end"] as? String == "2023-11-14T22:13:21.623456Z")
        #expect(flow["state"] as? String == "SF")
        #expect((flow["age"] as? Double).map { abs($0 - 1.5) < 1e-9 } == true)
    }

    @Test("the originator is src even when it is the higher endpoint of the key")
    func originatorIsSource() throws {
        var flow = sampleFlow()
        flow.originatorIsA = false
        let object = try #require(try JSONSerialization.jsonObject(with: Data(FlowRecordFormatter.json(flow).utf8)) as? [String: Any])
        #expect(object["src_ip"] as? String == "10.0.0.2")
        #expect(object["src_port"] as? Int == 22)
        #expect(object["dest_port"] as? Int == 40000)
    }

    @Test func text() {
        #expect(FlowRecordFormatter.text(sampleFlow())
            == "2023-11-14T22:13:21.623456Z TCP 10.0.0.1:40000 -> 10.0.0.2:22 vlan 100 SF 5/4 pkts 400/900 bytes 1.500s timeout")
    }

    @Test("strings are escaped per RFC 8259")
    func escaping() throws {
        var writer = JSONObjectWriter()
        writer.string("name", "quote\" backslash\\ newline\n tab\t bell\u{07} é")
        let text = writer.finish()
        #expect(text == #"{"name":"quote\" backslash\\ newline\n tab\t bell\u0007 é"}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
        #expect(object["name"] == "quote\" backslash\\ newline\n tab\t bell\u{07} é")
    }
}
