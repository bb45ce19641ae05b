// Paths and process helpers shared by the end-to-end tests.

import Foundation

enum TestPaths {
    /// The package root (two levels above this file's folder).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// ../shared/corpus beside the clone: real captures from public projects, used by path, never copied.
    static let corpus: URL = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    static let captures: URL = packageRoot.appendingPathComponent("captures")

    static func corpusFile(_ relative: String) -> String { corpus.appendingPathComponent(relative).path }

    /// The `idlewatch` executable built beside the test bundle.
    static var executable: String {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // swift test runs .build/<triple>/debug/IdleWatchPackageTests.xctest
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("idlewatch").path),
            directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("idlewatch").path
    }

    /// A new empty directory for one test's files.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("idlewatch-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct ProcessResult {
    var status: Int32
    var standardOutput: String
    var standardError: String

    var outputLines: [String] { standardOutput.split(separator: "\n").map(String.init) }
}

/// Runs the idlewatch executable with `arguments` and collects its output.
func runIdleWatch(_ arguments: [String], standardInput: URL? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: TestPaths.executable)
    process.arguments = arguments
    // Output goes to files, not pipes, so a large output can never block the child.
    let directory = TestPaths.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    if let standardInput { process.standardInput = try FileHandle(forReadingFrom: standardInput) }
    try process.run()
    process.waitUntilExit()
    let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
    return ProcessResult(status: process.terminationStatus,
                         standardOutput: String(decoding: outData, as: UTF8.self),
                         standardError: String(decoding: errData, as: UTF8.self))
}

/// Parses JSON lines into dictionaries; fails the caller if a line is not a JSON object.
func parseJSONLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw JSONLineError(line: String(line))
        }
        return object
    }
}

struct JSONLineError: Error { let line: String }

/// Calls `body` with the IPv4 socket address of `address`:`port` (for connect, sendto, bind).
@discardableResult
func withIPv4SocketAddress(_ address: String, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int) -> Int {
    var target = sockaddr_in()
    target.sin_family = sa_family_t(AF_INET)
    target.sin_port = UInt16(port).bigEndian
    inet_pton(AF_INET, address, &target.sin_addr)
    return withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
