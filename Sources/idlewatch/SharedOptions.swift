// The options `replay` and `live` both take, defined once each (swift-argument-parser option groups), so their
// spelling, help and checks cannot drift apart; and the one place where the sinks are built from the options.
//
// Adding a sink: its file in Sources/OutputSinks (a type conforming to AlertSink), its option in `SinkOptions`
// below and one line in `SinkOptions.makeSinks`; both commands then deliver to it, ticked, closed and accounted
// for like the others.
//
// Not shared, on purpose: --state and --save-interval. They name the same file but do different jobs: a replay
// resumes from the state and saves on packet time (default every 300 s of it, with no default file), a live
// sensor saves on the monotonic clock (every 60 s, to /var/lib/idlewatch/state.db unless --no-state).

import ArgumentParser
import FlowTracking
import HostBaselines
import OutputSinks
import Sensor
import SiteModel

/// --site.
struct SiteOptions: ParsableArguments {
    @Option(name: .long, help: "The site file (YAML): local networks, inventory, maintenance ports. Check it with check-site.")
    var site: String?

    /// The site file, loaded into `configuration`; a bad one stops the run before any packet is read, with
    /// check-site's messages on standard error (and its warnings there too).
    func load(into configuration: inout PipelineConfiguration) throws {
        guard let site else { return }
        do {
            configuration.site = try SiteLoader.load(path: site)
            configuration.site.warnings.forEach { FileOutput.standardError.write("idlewatch: \($0)\n") }
        } catch {
            FileOutput.standardError.write(error.description + "\n")
            throw CommandFailure("\(site): not a valid site file (see the lines above)", exitCode: 2)
        }
    }
}

/// What standard output carries: --format and --flows.
struct FormatOptions: ParsableArguments {
    @Option(name: .long, help: "Record format: text (one readable line) or json (EVE-style JSON lines).")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Write one record per flow when it ends.")
    var flows = false

    func apply(to configuration: inout PipelineConfiguration) {
        configuration.writeFlows = flows
        configuration.format = format
    }
}

/// The table caps: --flow-capacity and --host-capacity.
struct CapacityOptions: ParsableArguments {
    @Option(name: .long, help: "Most flows held at once; the least valuable are evicted beyond it.")
    var flowCapacity = FlowTableConfiguration().capacity

    @Option(name: .long, help: "Most hosts held for each side (local, outside); the least recently seen go beyond it.")
    var hostCapacity = HostTableConfiguration().localCapacity

    func validate() throws {
        guard flowCapacity > 0 && flowCapacity <= 100_000_000 else {
            throw ValidationError("--flow-capacity must be between 1 and 100000000")
        }
        guard hostCapacity > 0 && hostCapacity <= 100_000_000 else {
            throw ValidationError("--host-capacity must be between 1 and 100000000")
        }
    }

    func apply(to configuration: inout PipelineConfiguration) {
        configuration.flows.capacity = flowCapacity
        configuration.hosts.localCapacity = hostCapacity
        configuration.hosts.externalCapacity = hostCapacity
    }
}

/// The sinks besides standard output: --syslog and its message options.
struct SinkOptions: ParsableArguments {
    @Option(name: .long, help: "Send alerts to syslog (repeatable): unix:PATH (unix:/dev/log), udp://HOST:PORT, tcp://HOST:PORT.")
    var syslog: [String] = []

    @Option(name: .long, help: "Syslog message format: rfc5424 or rfc3164 (default: rfc3164 for unix:, rfc5424 otherwise).")
    var syslogFormat: String?

    @Option(name: .long, help: "Syslog facility (local0..local7, daemon, auth, user).")
    var facility = "local0"

    @Option(name: .long, help: "Syslog app name.")
    var appName = "idlewatch"

    /// One sink per destination given, in the order given; host names are resolved and local sockets reached
    /// now (before a live sensor drops its privileges). A bad destination, format or facility: exit 2.
    func makeSinks(log: (String) -> Void) throws -> [AlertSink] {
        var sinks: [AlertSink] = []
        do {
            let facilityValue = try SyslogFacility.parse(facility)
            for text in syslog {
                let destination = try SyslogDestination.parse(text)
                let messageFormat = try syslogFormat.map(SyslogMessageFormat.parse) ?? destination.preferredFormat
                sinks.append(try SyslogSink(destination: destination, format: messageFormat, facility: facilityValue,
                                            appName: appName))
                log("alerts to syslog \(destination) (\(messageFormat.rawValue), \(facility))")
            }
        } catch {
            throw CommandFailure("syslog: \(error)", exitCode: 2)
        }
        return sinks
    }
}
