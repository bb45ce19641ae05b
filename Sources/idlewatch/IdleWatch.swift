// The idlewatch command line: replay saved captures (and, in later steps, watch live).

import ArgumentParser
import OutputSinks

@main
struct IdleWatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idlewatch",
        abstract: "Watch the wire for idle hosts that talk and for outside access to maintenance ports.",
        version: "0.1.0",
        subcommands: [Replay.self, Live.self, Hosts.self, Interfaces.self, CheckSite.self]
    )

    /// Failures of the work itself print as `idlewatch: MESSAGE` (tcpdump's style); usage errors keep
    /// ArgumentParser's message and help hint.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as CommandFailure {
            CommandFailure.exit(failure)
        } catch {
            exit(withError: error)
        }
    }
}

extension OutputFormat: ExpressibleByArgument {}
