// `idlewatch check-site FILE`: validate a site file, naming the line, column and key of every problem.

import ArgumentParser
import SiteModel

struct CheckSite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-site",
        abstract: "Validate a site file and name the line and key of every problem.",
        discussion: """
            On success prints a one-line summary and exits 0. Otherwise prints one line per problem on standard \
            error, FILE:LINE:COLUMN: KEY: MESSAGE, and exits 1. Warnings (FILE:LINE:COLUMN: warning: KEY: MESSAGE, \
            on standard error) point at what the file accepts but its author may not mean; with --strict they are \
            problems too.
            """
    )

    @Argument(help: "The site file (YAML).")
    var file: String

    @Flag(name: .long, help: "Treat warnings as problems: exit 1 when there is any.")
    var strict = false

    func run() throws {
        let site: Site
        do {
            site = try SiteLoader.load(path: file)
        } catch {
            // A file that could not be read is one message with no position: say it the usual way.
            if error.problems.count == 1, error.problems[0].line == 0 {
                throw CommandFailure(error.problems[0].description)
            }
            FileOutput.standardError.write(error.description + "\n")
            let count = error.problems.count
            throw CommandFailure("\(file): \(count) \(count == 1 ? "problem" : "problems")")
        }
        if !site.warnings.isEmpty {
            FileOutput.standardError.write(site.warnings.map { "\($0)\n" }.joined())
            if strict {
                let count = site.warnings.count
                throw CommandFailure("\(DisplayText.escaped(file)): \(count) \(count == 1 ? "warning" : "warnings") (--strict)")
            }
        }
        print("\(DisplayText.escaped(file)): ok: \(CheckSite.summary(site))"
              + (site.warnings.isEmpty ? "" : " (\(site.warnings.count) \(site.warnings.count == 1 ? "warning" : "warnings"))"))
    }

    /// `3 local networks, 3 hosts (1 decommissioned, 1 idle, 1 active), 2 maintenance ports, ...`
    static func summary(_ site: Site) -> String {
        func count(_ number: Int, _ singular: String, _ plural: String? = nil) -> String {
            "\(number) \(number == 1 ? singular : plural ?? singular + "s")"
        }
        var parts: [String] = []
        var networks = count(site.localNetworks.count, "local network")
        if site.localNetworks == Site.privateNetworks { networks += " (the private ranges)" }
        parts.append(networks)
        if !site.publicAddresses.isEmpty { parts.append(count(site.publicAddresses.count, "public address", "public addresses")) }
        let states = HostState.allCases.map { state in "\(site.hosts.filter { $0.state == state }.count) \(state.rawValue)" }
        parts.append(count(site.hosts.count, "host") + (site.hosts.isEmpty ? "" : " (\(states.joined(separator: ", ")))"))
        let closed = site.maintenancePorts.filter(\.closed).count
        parts.append(count(site.maintenancePorts.count, "maintenance port") + (closed > 0 ? " (\(closed) closed)" : ""))
        parts.append(count(site.remoteAdminPorts.count, "remote-admin port"))
        parts.append("learning \(SiteSyntax.text(site.learning.period))")
        parts.append("dormant after \(SiteSyntax.text(site.learning.dormantAfter))")
        return parts.joined(separator: ", ")
    }
}
