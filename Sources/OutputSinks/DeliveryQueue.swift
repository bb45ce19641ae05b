// What a network sink needs whatever its protocol: a bounded queue that holds encoded messages while the
// destination is slow or away (full, the oldest message goes, and the sink counts it), and the reconnection backoff.
// The syslog sink is built on them; a sink for another collector (HTTP, Kafka) uses the same two, so every network
// sink drops, retries and accounts the same way.

/// A bounded FIFO of encoded messages. Full, `enqueue` drops the oldest to make room: a sensor that waited for a
/// collector would stop analysing, and the newest alerts are the ones an analyst needs first.
struct DeliveryQueue {
    let capacity: Int
    private var messages = MessageFIFO()

    /// `capacity`: at least 1 (the sinks check it when they are made).
    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { messages.count }
    var isEmpty: Bool { messages.isEmpty }
    var first: [UInt8]? { messages.first }

    /// Appends `message`, returning whether a message was dropped to make room. A head message that is partly
    /// written (`headInProgress`, on a stream) stays, since dropping it would cut a frame: the next oldest goes
    /// instead, or `message` itself when the head is all there is.
    mutating func enqueue(_ message: [UInt8], headInProgress: Bool) -> Bool {
        var dropped = false
        if messages.count >= capacity {
            dropped = true
            if !headInProgress {
                messages.removeFirst()
            } else if messages.count >= 2 {
                messages.removeSecond()
            } else {
                return true
            }
        }
        messages.append(message)
        return dropped
    }

    /// Puts messages taken back (sent on a connection that broke before the destination acknowledged them) before
    /// the others, in their order. The bound holds for them too: returns how many of the oldest went beyond it.
    mutating func requeue(_ taken: [[UInt8]]) -> Int {
        messages.prepend(taken)
        var dropped = 0
        while messages.count > capacity {
            messages.removeFirst()
            dropped += 1
        }
        return dropped
    }

    mutating func removeFirst() { messages.removeFirst() }
    mutating func removeAll() { messages.removeAll() }
}

/// When to try a destination again. After a failure the next try waits `delay`, which doubles each failure up to
/// `maximum`; a message delivered brings it back to `initial`. (Whether a lost connection is retried at once is
/// the sink's decision: the syslog sink does when the connection had delivered, since a restarted collector is
/// usually back.)
struct RetryBackoff {
    let initial: Double
    let maximum: Double
    private(set) var delay: Double

    init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = maximum
        delay = initial
    }

    /// The wait before the next try; the one after waits twice as long, up to the maximum.
    mutating func next() -> Double {
        let wait = delay
        delay = min(delay * 2, maximum)
        return wait
    }

    mutating func reset() {
        delay = initial
    }
}

/// A FIFO with O(1) append and removal at the front: removed slots are released at once and the array compacted
/// once the removed front is at least half of it (and 1,024 slots), so memory follows what is queued. Encoded
/// messages (`MessageFIFO`) and the TCP sink's unacknowledged message lengths use it.
struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    var first: Element? { isEmpty ? nil : storage[head] }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    mutating func removeFirst() {
        storage[head] = nil
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }

    /// Removes the second element: used when the first is a message half-written on a stream and must stay.
    mutating func removeSecond() {
        storage.remove(at: head + 1)
    }

    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }

    /// Puts `messages` before the others, in their order (messages taken back after a broken connection).
    mutating func prepend(_ elements: [Element]) {
        guard !elements.isEmpty else { return }
        storage.replaceSubrange(0..<head, with: elements.map(Optional.some))
        head = 0
    }
}

typealias MessageFIFO = FIFO<[UInt8]>
