// Several capture files (or directories of them) replayed as one stream in timestamp order, so state built from
// one file carries into the next and overlapping files (two taps, rotated captures) interleave correctly.
//
// Files are sorted by their first packet's timestamp. A file is opened when the merged stream reaches its first
// packet, so only files that overlap in time are open together. Within a file, packets keep their file order.

import Glibc
import PacketDecoding

public final class ReplaySource {
    /// A file that could not be read, completely or from some point on.
    public private(set) var errors: [PcapError] = []
    /// Files found in directories whose first bytes are not a capture format (a README, a site file, ...).
    public private(set) var skippedFiles: [String] = []
    /// Files in the order their first packets come.
    public private(set) var files: [String] = []
    public private(set) var filesRead = 0

    let filter: String?
    /// Total size of the files to read, for progress.
    let totalBytes: Int64
    var finishedBytes: Int64 = 0
    /// Files not opened yet, with their first timestamps, latest first (so the next is `popLast`).
    var pending: [(path: String, first: Timestamp)] = []
    /// Open sources, each positioned on its next packet.
    var active: [OfflineSource] = []
    /// Standard input, pipes and FIFOs cannot be reopened: their sources stay open from the scan on.
    var keptOpen: [String: OfflineSource] = [:]

    /// Expands directories, checks that each file opens, and orders files by first timestamp.
    /// Directory entries are taken recursively in name order; hidden files are ignored.
    public init(paths: [String], filter: String? = nil) {
        self.filter = filter
        ReplaySource.raiseFileLimit()
        var scanned: [(path: String, first: Timestamp, order: Int)] = []
        for (order, path) in ReplaySource.expand(paths, skipped: &skippedFiles).enumerated() {
            do {
                let source = try OfflineSource(path: path, filter: filter)
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
    }

    /// Reads packets in timestamp order until every file is done, calling `handler` with each. The packet's bytes
    /// are valid only during the call. Read errors are recorded in `errors` and the other files go on.
    public func run<Handler: PacketHandler>(_ handler: inout Handler) {
        while true {
            openDueFiles()
            guard !active.isEmpty else { return }
            var index = 0
            if active.count > 1 {
                var earliest = active[0].current!.timestamp
                for i in 1..<active.count where active[i].current!.timestamp < earliest {
                    earliest = active[i].current!.timestamp
                    index = i
                }
            }
            if handler.isDone { return }
            let source = active[index]
            handler.handle(source.current!)
            do {
                if active.count == 1 && pending.isEmpty {
                    // The last file: no merge needed, so read it in a tight loop.
                    try source.drain(&handler)
                    finish(index)
                } else if try source.advance() == nil {
                    finish(index)
                }
            } catch {
                errors.append(error)
                finish(index)
            }
        }
    }

    /// Sets the quiet handler of every stream input (standard input, pipes, FIFOs): called on the reading thread,
    /// inside a read, when the input has brought nothing for `StreamReads.quietDelay` (the replay's reader hands
    /// over what it holds). nil removes it.
    public func setQuietHandler(_ handler: (() -> Void)?) {
        for source in keptOpen.values { source.setQuietHandler(handler) }
        for source in active { source.setQuietHandler(handler) }
    }

    /// Bytes read so far and in all, over the files being replayed (standard input counts as 0).
    public var progress: (done: Int64, total: Int64) {
        (finishedBytes + active.reduce(0) { $0 + ($1.byteOffset ?? 0) }, totalBytes)
    }

    static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        return path != "-" && stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }

    private func finish(_ index: Int) {
        finishedBytes += ReplaySource.fileSize(active[index].path)
        active.remove(at: index)
        filesRead += 1
    }

    /// Opens every pending file whose first packet is not later than the earliest packet of the open files.
    private func openDueFiles() {
        while let next = pending.last {
            if let earliest = active.lazy.map({ $0.current!.timestamp }).min(), next.first > earliest { return }
            pending.removeLast()
            if let source = keptOpen.removeValue(forKey: next.path) {
                active.append(source)
                continue
            }
            do {
                let source = try OfflineSource(path: next.path, filter: filter)
                if try source.advance() != nil { active.append(source) } else { filesRead += 1 }
            } catch {
                errors.append(error)
            }
        }
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
    static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
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

/// Receives packets from a capture source. Generic use (`some PacketHandler`) keeps the per-packet call direct.
public protocol PacketHandler {
    mutating func handle(_ packet: CapturedPacket)
    /// True once the handler wants no more packets (the replay was interrupted): reading stops there.
    var isDone: Bool { get }
}

extension PacketHandler {
    /// Most handlers take every packet; specialised generic code folds this away.
    public var isDone: Bool { false }
}
