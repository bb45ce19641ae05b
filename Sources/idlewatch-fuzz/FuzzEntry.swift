// The fuzz target. Built by scripts/fuzz with `-sanitize=fuzzer,address -D IDLEWATCH_LIBFUZZER`, it is a libFuzzer
// binary; in an ordinary build it replays the files it is given through the same harness, so a crashing input can
// be run under a debugger or with a Swift backtrace, without libFuzzer.
//
// IDLEWATCH_FUZZ_MODE=capture feeds each input as a whole capture file through libpcap instead of framed packets.

import FuzzHarness
import Glibc
import Sensor

enum Mode {
    case packets, capture

    static let current: Mode = getenv("IDLEWATCH_FUZZ_MODE").map { String(cString: $0) } == "capture" ? .capture : .packets
}

/// Runs one input; returns what it did, for the replayer's line.
@discardableResult
func run(_ input: UnsafeRawBufferPointer) -> String {
    let pipeline: Pipeline?
    switch Mode.current {
    case .packets: pipeline = FuzzHarness.runPackets(input)
    case .capture: pipeline = FuzzHarness.runCaptureFile(input)
    }
    guard let pipeline else { return "refused by libpcap" }
    return "\(pipeline.decode.packets) packets, \(pipeline.flows.counters.created) flows, "
        + "\(pipeline.analyzer.engine.ledger.raised) alerts"
}

#if IDLEWATCH_LIBFUZZER
import CLibFuzzer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// SwiftPM links an executable target with `main` defined as `<module>_main` (so tests can link the module), even
/// with no `@main` in it, and that definition wins over libFuzzer's `main`. So this is `main`: it hands over to
/// libFuzzer's driver, as libFuzzer's own `main` would.
@_cdecl("idlewatch_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}
#else
@main
enum Replay {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            complain("usage: idlewatch-fuzz INPUT... (IDLEWATCH_FUZZ_MODE=capture for capture files)")
            exit(64)
        }
        var status: Int32 = 0
        for path in paths {
            guard let bytes = readFile(path) else {
                complain("idlewatch-fuzz: cannot read \(path): \(String(cString: strerror(errno)))")
                status = 1
                continue
            }
            let outcome = bytes.withUnsafeBytes { run($0) }
            print("\(path): \(bytes.count) bytes, \(outcome)")
        }
        exit(status)
    }

    static func complain(_ message: String) {
        _ = (message + "\n").withCString { write(STDERR_FILENO, $0, strlen($0)) }
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            bytes.append(contentsOf: chunk[0..<count])
            if count < chunk.count { return ferror(file) == 0 ? bytes : nil }
        }
    }
}
#endif
