// `idlewatch hosts --state FILE`: the inventory as the traffic shows it, from a state file, with the sections to
// act on: decommission candidates, unknown hosts, quiet hosts that talked, maintenance ports reached from outside;
// each host with its MACs, their vendors (from the IEEE OUI list, OUIRegistry.swift) and VLANs.

import ArgumentParser
import Glibc
import OutputSinks
import PacketDecoding
import SiteModel
import StateStore

struct Hosts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report the hosts a state file knows: what the traffic shows next to what the site file declares.",
        discussion: """
            Reads the state file without changing it, so it can run while a live sensor writes the same file. \
            Declared states come from --site when given, else from the copy of the inventory saved with the state. \
            "Now" is the state's last packet time, so a report on an old replay reads as it would have then.
            """
    )

    @Option(name: .long, help: "The state file written by `replay --state` or `live`.")
    var state: String

    @Option(name: .long, help: "The site file to judge against (default: the inventory saved in the state file).")
    var site: String?

    @Option(name: .long, help: "Report format: text (sections for people) or json (one document).")
    var format: OutputFormat = .text

    @Option(name: .long, help: "Days without a frame after which a host declared active is a decommission candidate (0: every host declared active, with its silence).")
    var silentDays = 30.0

    @Flag(name: .long, help: "List outside hosts too (by default only local hosts are listed one by one).")
    var outside = false

    @Option(name: .long, help: ArgumentHelp(
        "The IEEE OUI list for MAC vendors (oui.txt or oui.csv).",
        discussion: "Default: /usr/share/ieee-data/oui.txt, then oui.csv (Debian's ieee-data package)."))
    var oui: String?

    func validate() throws {
        // 0 is in the range: a silence of zero or more is every host declared active, the whole list with each one's
        // silence. (The check once refused 0 while its message named 0 as the lower end.) NaN fails both sides.
        guard silentDays >= 0 && silentDays <= 36_500 else {
            throw ValidationError("--silent-days must be between 0 and 36500 (0 lists every host declared active)")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let saved: SavedState
        do {
            let file = try StateFile.openForReading(path: state)
            guard let loaded = try file.load() else {
                throw CommandFailure("\(state): nothing has been saved in this state file yet", exitCode: 1)
            }
            saved = loaded
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("\(error)", exitCode: 2)
        }
        let inventory: [InventoryEntry]
        let inventorySource: String
        if let site {
            do {
                let loaded = try SiteLoader.load(path: site)
                loaded.warnings.forEach { FileOutput.standardError.write("idlewatch: \($0)\n") }
                inventory = loaded.hosts
            } catch {
                FileOutput.standardError.write(error.description + "\n")
                throw CommandFailure("\(site): not a valid site file (see the lines above)", exitCode: 2)
            }
            inventorySource = site
        } else {
            inventory = saved.inventory
            inventorySource = "the inventory saved in the state file"
        }
        var report = HostsReport(state: saved, inventory: inventory,
                                 silentAfter: .seconds(Int64(silentDays * 86_400)), includeOutside: outside)
        // The vendor list is read only here, and only for the MACs the report shows.
        let macs = report.macs
        if !macs.isEmpty {
            let paths = oui.map { [$0] } ?? OUIRegistry.defaultPaths
            report.vendors = OUIRegistry.load(macs: macs, paths: paths)
            if report.vendors == nil {
                FileOutput.standardError.write("idlewatch: no OUI list at \(paths.joined(separator: " or ")): MACs are "
                    + "shown without vendors (Debian's ieee-data package provides the list)\n")
            }
        }
        let output = BufferedOutput(descriptor: STDOUT_FILENO)
        output.writeLine(format == .json ? report.json(statePath: state, inventorySource: inventorySource)
                                         : report.text(statePath: state, inventorySource: inventorySource))
        output.flush()
        if let failure = output.failureDescription, output.failure != EPIPE {
            throw CommandFailure("standard output: \(failure)")
        }
    }
}
