// Several capture files (or directories of them) replayed as one stream in timestamp order, so state built from
// one file carries into the next and overlapping files (two taps, rotated captures) interleave correctly.
//
// Files are sorted by their first packet's timestamp. A file is opened when the merged stream reaches its first
// packet, so only files that overlap in time are open together, at most `openFileBudget` of them; the open files are
// a heap on their next packet's time. Within a file, packets keep their file order.

import Glibc
import PacketDecoding

public final class ReplaySource: PacketSource {
    /// Most capture files held open at once by default. Files that overlap in time must be open together to be
    /// interleaved; each costs a descriptor and libpcap's buffers, so the count is bounded (and by the descriptor
    /// limit, less a reserve for the state file and the sinks).
    public static let defaultOpenFileBudget = 1024
    /// Descriptors left for everything else (the state file and its journal, syslog sockets, standard streams).
    static let descriptorReserve = 64

    /// A file that could not be read, completely or from some point on.
    public private(set) var errors: [PcapError] = []
    /// Files found in directories whose first bytes are not a capture format (a README, a site file, ...).
    public private(set) var skippedFiles: [String] = []
    /// Files in the order their first packets come.
    public private(set) var files: [String] = []
    public private(set) var filesRead = 0
    /// Most files open at once in this replay: `defaultOpenFileBudget` or what was asked, within the descriptor limit.
    public let openFileBudget: Int
    /// Most files that were open at once so far.
    public private(set) var peakOpenFiles = 0

    let filter: String?
    /// Total size of the files to read, for progress.
    let totalBytes: Int64
    var finishedBytes: Int64 = 0
    /// Files not opened yet, with their first timestamps, latest first (so the next is `popLast`).
    var pending: [(path: String, first: Timestamp)] = []
    /// Open sources, each positioned on its next packet, as a binary min-heap on (next packet's time, opening
    /// sequence): the next packet of the merge is at the root, found and replaced in O(log n). A scan of every open
    /// file per packet made many overlapping files cost quadratic time. Ties go to the file opened first.
    var active: [Open] = []
    var openedCount = 0
    /// Standard input, pipes and FIFOs cannot be reopened: their sources stay open from the scan on.
    var keptOpen: [String: OfflineSource] = [:]
    /// Set by `breakLoop()`, from any thread: the merge stops before its next packet, a stream read that waits ends.
    let stop = StopFlag()
    /// Streams (standard input, pipes, FIFOs) wait for data, files do not: quiet after `StreamReads.quietDelay`.
    /// Set once, by the scan.
    public private(set) var quietAfter: Duration?

    struct Open {
        var time: Timestamp
        var sequence: Int
        let source: OfflineSource

        @inline(__always)
        func precedes(_ other: Open) -> Bool { (time, sequence) < (other.time, other.sequence) }
    }

    /// Expands directories, checks that each file opens, and orders files by first timestamp.
    /// Directory entries are taken recursively in name order; hidden files are ignored. `maximumOpenFiles` bounds
    /// the files open at once (see `defaultOpenFileBudget`).
    public init(paths: [String], filter: String? = nil, maximumOpenFiles: Int = ReplaySource.defaultOpenFileBudget) {
        self.filter = filter
        let limit = ReplaySource.raiseFileLimit()
        openFileBudget = max(1, min(maximumOpenFiles, limit.map { $0 - ReplaySource.descriptorReserve } ?? maximumOpenFiles))
        var scanned: [(path: String, first: Timestamp, order: Int)] = []
        for (order, path) in ReplaySource.expand(paths, skipped: &skippedFiles).enumerated() {
            do {
                let source = try OfflineSource(path: path, filter: filter, stop: stop)
                guard let packet = try source.advance() else {  // empty, or every packet filtered out
                    filesRead += 1
                    continue
                }
                scanned.append((path, packet.timestamp, order))
                if !ReplaySource.canReopen(path) { keptOpen[path] = source }
            } catch {
                // A stream stopped by a signal before its first packet is not a damaged file (the replay reports
                // the interruption).
                if error.message != StreamReads.stoppedMessage { errors.append(error) }
            }
        }
        scanned.sort { ($0.first, $0.order) < ($1.first, $1.order) }
        files = scanned.map(\.path)
        totalBytes = files.reduce(0) { $0 + ReplaySource.fileSize($1) }
        pending = scanned.reversed().map { ($0.path, $0.first) }
        quietAfter = keptOpen.isEmpty ? nil : .milliseconds(Int64(StreamReads.quietDelay))
    }

    /// Reads packets in timestamp order until every file is done, calling `handler` with each. The packet's bytes
    /// are valid only during the call. Read errors are recorded in `errors` and the other files go on. When more files
    /// overlap in time than `openFileBudget` allows, reading stops there with an error that says so: what was read
    /// is in order and analysed, nothing is read out of order.
    public func run<Handler: PacketHandler>(_ handler: inout Handler) {
        while true {
            guard openDueFiles() else { return }
            guard let top = active.first else { return }
            if handler.isDone || stop.isSet { return }
            let source = top.source
            handler.handle(source.current!)
            do {
                if active.count == 1 && pending.isEmpty {
                    // The last file: no merge needed, so read it in a tight loop.
                    try source.drain(&handler, until: stop)
                    finishTop()
                } else if let next = try source.advance() {
                    active[0].time = next.timestamp
                    siftDown(0)
                } else {
                    finishTop()
                }
            } catch {
                errors.append(error)
                finishTop()
            }
        }
    }

    /// The files, for messages: the one path, or how many.
    public var name: String { files.count == 1 ? files[0] : "\(files.count) capture files" }


    /// `run`, with `quiet` called when a stream input brings nothing for a moment. Errors are kept in `errors`
    /// and the other files go on, so nothing is thrown.
    public func deliver<Receiver: PacketHandler>(to receiver: inout Receiver, whenQuiet quiet: (() -> Void)?) {
        setQuietHandler(quiet)
        defer { setQuietHandler(nil) }
        run(&receiver)
    }

    /// Stops the replay from any thread: before the next packet, and a stream read that waits ends within
    /// `StreamReads.checkInterval`. What was delivered stays delivered.
    public func breakLoop() {
        stop.set()
    }

    /// Sets the quiet handler of every stream input (standard input, pipes, FIFOs): called on the reading thread,
    /// inside a read, when the input has brought nothing for `StreamReads.quietDelay` (the replay's reader hands
    /// over what it holds). nil removes it.
    public func setQuietHandler(_ handler: (() -> Void)?) {
        for source in keptOpen.values { source.setQuietHandler(handler) }
        for open in active { open.source.setQuietHandler(handler) }
    }

    /// Bytes read so far and in all, over the files being replayed (standard input counts as 0).
    public var progress: (done: Int64, total: Int64)? {
        (finishedBytes + active.reduce(0) { $0 + ($1.source.byteOffset ?? 0) }, totalBytes)
    }

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return path != "-" && stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// The file at the root is done: close it and put the last leaf in its place.
    private func finishTop() {
        finishedBytes += ReplaySource.fileSize(active[0].source.path)
        filesRead += 1
        let last = active.removeLast()
        guard !active.isEmpty else { return }
        active[0] = last
        siftDown(0)
    }

    private func push(_ entry: Open) {
        active.append(entry)
        peakOpenFiles = max(peakOpenFiles, active.count + keptOpen.count)
        var child = active.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard active[child].precedes(active[parent]) else { return }
            active.swapAt(child, parent)
            child = parent
        }
    }

    private func siftDown(_ start: Int) {
        var parent = start
        let count = active.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { return }
            var smallest = left
            if left + 1 < count && active[left + 1].precedes(active[left]) { smallest = left + 1 }
            guard active[smallest].precedes(active[parent]) else { return }
            active.swapAt(smallest, parent)
            parent = smallest
        }
    }

    /// Opens every pending file whose first packet is not later than the earliest packet of the open files. False
    /// when the next file would pass the open-file budget: the replay stops, with an error saying why.
    private func openDueFiles() -> Bool {
        while let next = pending.last {
            if let earliest = active.first, next.first > earliest.time { return true }
            if let source = keptOpen.removeValue(forKey: next.path) {
                pending.removeLast()
                push(Open(time: source.current!.timestamp, sequence: openedCount, source: source))
                openedCount += 1
                continue
            }
            guard active.count + keptOpen.count < openFileBudget else {
                refuseOverlap(next)
                return false
            }
            pending.removeLast()
            do {
                let source = try OfflineSource(path: next.path, filter: filter, stop: stop)
                if let packet = try source.advance() {
                    push(Open(time: packet.timestamp, sequence: openedCount, source: source))
                    openedCount += 1
                } else {
                    filesRead += 1
                }
            } catch {
                errors.append(error)
            }
        }
        return true
    }

    /// More files overlap at `next`'s first packet than may be open at once. Reading on would mean leaving files out
    /// or handing packets out of time order, so the replay ends here and says what to do.
    private func refuseOverlap(_ next: (path: String, first: Timestamp)) {
        let unread = pending.count + active.count + keptOpen.count
        errors.append(PcapError(source: next.path, message:
            "more than \(openFileBudget) capture files overlap in time at \(next.first.rfc3339(fractionDigits: 6)), "
                + "more than this replay keeps open at once (one descriptor each); the replay stopped there, "
                + "\(unread) files not read to the end. Merge the overlapping files first (mergecap -w merged.pcap "
                + "FILES...) or replay them in smaller groups"))
        for entry in active { finishedBytes += entry.source.byteOffset ?? 0 }
        active.removeAll()
        keptOpen.removeAll()
        pending.removeAll()
    }

    /// Files named directly are taken as they are (libpcap will say what is wrong with them); files inside
    /// directories are taken when their magic number is a capture format or a compression format (which then
    /// fails with a hint), and counted as skipped otherwise.
    static func expand(_ paths: [String], skipped: inout [String]) -> [String] {
        var result: [String] = []
        for path in paths {
            if path != "-" && isDirectory(path) {
                for file in listFiles(path) {
                    let kind = CaptureFileKind.sniff(path: file) ?? .other
                    if kind.isCapture || kind.isCompressed { result.append(file) } else { skipped.append(file) }
                }
            } else {
                result.append(path)
            }
        }
        return result
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Regular files can be closed after the scan and opened again when their turn comes; `-`, pipes, FIFOs and
    /// `/dev/fd/N` from process substitution cannot.
    static func canReopen(_ path: String) -> Bool {
        var info = stat()
        return path != "-" && stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Replays may hold every file that overlaps in time open at once: allow as many descriptors as the hard limit.
    /// Returns the soft limit in force afterwards (nil when it cannot be read or is unlimited).
    @discardableResult
    static func raiseFileLimit() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? nil : Int(limit.rlim_cur)
    }

    /// Regular files under `directory`, recursively, sorted by path; names starting with `.` are left out, and so
    /// are FIFOs, sockets and devices (reading them could block for ever). Symbolic links are followed, but a
    /// directory already visited (a link cycle, or two links to one place) is read once.
    static func listFiles(_ directory: String) -> [String] {
        var visited = Set<[UInt64]>()
        return listFiles(directory, visited: &visited)
    }

    static func listFiles(_ directory: String, visited: inout Set<[UInt64]>) -> [String] {
        var info = stat()
        guard stat(directory, &info) == 0, visited.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted,
            let dir = opendir(directory)
        else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        var files: [String] = []
        for name in names.sorted() {
            let full = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var entryInfo = stat()
            guard stat(full, &entryInfo) == 0 else { continue }
            switch entryInfo.st_mode & S_IFMT {
            case S_IFDIR: files += listFiles(full, visited: &visited)
            case S_IFREG: files.append(full)
            default: continue
            }
        }
        return files
    }
}
