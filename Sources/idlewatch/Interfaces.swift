// `idlewatch interfaces`: the devices libpcap can capture on, like `tcpdump -D`.

import ArgumentParser
import PacketCapture

struct Interfaces: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the interfaces libpcap can capture on.")

    func run() throws {
        let interfaces: [CaptureInterface]
        do {
            interfaces = try captureInterfaces()
        } catch {
            throw CommandFailure(error.description)
        }
        for (number, interface) in interfaces.enumerated() {
            var flags: [String] = []
            if interface.isUp { flags.append("Up") }
            if interface.isRunning { flags.append("Running") }
            if interface.isLoopback { flags.append("Loopback") }
            let description = interface.description.map { " (\($0))" } ?? ""
            print("\(number + 1).\(interface.name)\(description) [\(flags.joined(separator: ", "))]")
        }
    }
}

/// A one-line failure message, printed as `idlewatch: MESSAGE`, with a non-zero exit status.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    let exitCode: Int32

    init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}
