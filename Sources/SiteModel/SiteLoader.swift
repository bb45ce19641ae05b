// Reads a site file (YAML) into a `Site`, checking every key and value and collecting every problem with its line,
// column and key path. Works on Yams' node tree (`compose`), not on decoded values, so every value keeps its mark.

import PacketDecoding
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads and validates site files. Rules beyond the types (documented in the README):
/// - every key is optional except `hosts[].address/name/state` (`mac` may stand for `address`) and
///   `maintenance_ports[].name/host/port`;
///   an empty value (`key:` or `key: ~`) is the same as leaving an optional key out;
/// - values are read as text, whatever YAML type they resolved to: `"22"` is port 22, `2026-12-31` a date;
/// - `local_networks: []` is an error (leave the key out for the private ranges); `remote_admin_ports: []` turns
///   the undeclared-port check off;
/// - inventory networks and maintenance hosts must lie inside `local_networks` (or be a `public_addresses` entry);
///   an `external` address must be one of `public_addresses` when that list is given;
/// - `allow` is an error on a decommissioned host (it may send nothing at all) and ignored on an active one;
/// - `mac` is one station MAC or a list, each declared by one entry only, on an entry for one address or none.
public enum SiteLoader {
    /// A site file larger than this is refused rather than read into memory.
    public static let maximumFileSize = 16 << 20

    /// Reads and validates the site file at `path`. A file that cannot be read gives one problem with the system's
    /// reason (`strerror`).
    public static func load(path: String) throws(SiteFileError) -> Site {
        let bytes: [UInt8]
        do {
            bytes = try readFile(path)
        } catch {
            throw SiteFileError(problems: [.init(file: path, line: 0, column: 0, key: "", message: error.message)])
        }
        if let (line, column) = invalidUTF8Position(bytes) {
            throw SiteFileError(problems: [
                .init(file: path, line: line, column: column, key: "", message: "not valid UTF-8 text")
            ])
        }
        return try parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    /// Validates site-file text; `path` names it in messages and becomes `Site.path`.
    public static func parse(_ text: String, path: String) throws(SiteFileError) -> Site {
        // A UTF-8 byte-order mark, as Windows editors write: YAML allows it, but Yams hands the text to libyaml as
        // UTF-8 already decided, and libyaml then takes the mark for content ("did not find expected <document
        // start>" on line 2). Columns on line 1 count from after it, as editors show them.
        var text = text
        if text.unicodeScalars.first == "\u{FEFF}" { text = String(text.unicodeScalars.dropFirst()) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, .default, .default, .utf8)
        } catch let error as YamlError {
            throw SiteFileError(problems: [syntaxProblem(error, text: text, path: path)])
        } catch {
            throw SiteFileError(problems: [.init(file: path, line: 0, column: 0, key: "", message: "\(error)")])
        }
        var reader = SiteReader(file: path)
        var site = reader.read(root)
        // Cross-checks run after the walk; put everything back in file order.
        func ordered(_ problems: [SiteFileError.Problem]) -> [SiteFileError.Problem] {
            problems.enumerated().sorted {
                ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
            }.map(\.element)
        }
        guard reader.problems.isEmpty else { throw SiteFileError(problems: ordered(reader.problems)) }
        site.warnings = ordered(reader.warnings)
        return site
    }

    static func readFile(_ path: String) throws(SiteValueError) -> [UInt8] {
        func failure(_ what: String) -> SiteValueError {
            SiteValueError("cannot \(what): \(String(cString: strerror(errno)))")
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw failure("open") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("read")
            }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            if bytes.count > maximumFileSize {
                throw SiteValueError("larger than \(maximumFileSize >> 20) MiB; not a site file")
            }
        }
    }

    /// Line and column (1-based) of the first byte that is not UTF-8, or nil when all of it is.
    static func invalidUTF8Position(_ bytes: [UInt8]) -> (Int, Int)? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1
        var column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            case .emptyInput:
                return nil
            case .error:
                return (line, column)
            }
        }
    }

    /// A YAML error as a problem at libyaml's position, with its own words.
    static func syntaxProblem(_ error: YamlError, text: String, path: String) -> SiteFileError.Problem {
        func problem(_ mark: Mark, _ message: String) -> SiteFileError.Problem {
            .init(file: path, line: mark.line, column: mark.column, key: "", message: message)
        }
        func syntax(_ context: YamlError.Context?, _ message: String, _ mark: Mark) -> SiteFileError.Problem {
            var message = "YAML syntax error: \(message)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            // libyaml's words for a tab in indentation do not say "tab".
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if mark.line >= 1, mark.line <= lines.count,
                lines[mark.line - 1].unicodeScalars.dropFirst(mark.column - 1).first == "\t"
            {
                message += "; YAML cannot indent with tabs, use spaces"
            }
            return problem(mark, message)
        }
        switch error {
        case .scanner(let context, let message, let mark, _), .parser(let context, let message, let mark, _):
            return syntax(context, message, mark)
        case .composer(let context, let message, let mark, _):
            if message == "but found another document" {
                return problem(mark, "a site file holds one YAML document; this starts a second one")
            }
            return syntax(context, message, mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return problem(context.mark, "YAML error: key \(keys) appears more than once in the same mapping")
        case .reader(let message, let offset, _, _):
            // `offset` counts Characters from the start of the text.
            var line = 1
            var column = 1
            for character in text.prefix(offset ?? 0) {
                if character == "\n" || character == "\r\n" {
                    line += 1
                    column = 1
                } else {
                    column += character.unicodeScalars.count
                }
            }
            return .init(file: path, line: line, column: column, key: "", message: "YAML error: \(message)")
        default:
            return .init(file: path, line: 0, column: 0, key: "", message: "YAML error: \(error)")
        }
    }
}

/// One walk over the node tree: builds the `Site` and records every problem on the way.
struct SiteReader {
    let file: String
    var problems: [SiteFileError.Problem] = []
    var warnings: [SiteFileError.Problem] = []

    init(file: String) {
        self.file = file
    }

    static let topKeys = ["local_networks", "public_addresses", "hosts", "maintenance_ports", "remote_admin_ports",
                          "learning"]
    static let hostKeys = ["address", "mac", "name", "state", "allow"]
    static let maintenanceKeys = ["name", "host", "port", "proto", "external", "allowed_sources", "windows", "expires",
                                  "closed"]
    static let learningKeys = ["period", "dormant_after"]

    /// A value with the key path that leads to it.
    struct Field {
        var value: Node
        var path: String
        /// Where the key is (for problems about the key itself); the value's mark for list items.
        var keyMark: Mark?
    }

    mutating func report(_ mark: Mark?, _ path: String, _ message: String) {
        problems.append(.init(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, key: path, message: message))
    }

    mutating func report(_ field: Field, _ message: String) {
        report(field.value.mark, field.path, message)
    }

    /// Accepted as written, but probably not what was meant.
    mutating func warn(_ mark: Mark?, _ path: String, _ message: String) {
        warnings.append(.init(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, key: path, message: message,
                              isWarning: true))
    }

    mutating func warn(_ field: Field, _ message: String) {
        warn(field.value.mark, field.path, message)
    }

    // MARK: The document

    mutating func read(_ root: Node?) -> Site {
        var site = Site(path: file)
        // An empty file is a site with every default.
        guard let root, !isNull(root) else { return site }
        let document = Field(value: root, path: "", keyMark: root.mark)
        guard let top = fields(of: document, known: Self.topKeys, what: "keys (local_networks, hosts, ...)") else {
            return site
        }
        let placesStart = problems.count
        // Named in the outside-of-local_networks messages, which otherwise puzzle a file without the key.
        var localNetworksName = "local_networks (by default the private ranges)"

        if let field = optional(top, "local_networks"), let items = items(field) {
            if items.isEmpty {
                report(field, "is empty; leave the key out to use the private ranges (RFC 1918, RFC 4193, link-local)")
            }
            var networks: [IPNetwork] = []
            var listed = Set<IPNetwork>()
            for item in items {
                guard let network = value(item, expected: "a network (10.0.0.0/8) or an address", SiteSyntax.network)
                else { continue }
                if network.prefixLength == 0 {
                    // Everything inside: no source is ever outside, so every inbound detection is silently off.
                    report(item, "\(network) covers every \(network.address.isIPv6 ? "IPv6" : "IPv4") address: no "
                               + "source would be outside, so maintenance-port-inbound, new-inbound-service and "
                               + "inbound-scan could never fire; list the site's own networks")
                    continue
                }
                if network.prefixLength < (network.address.isIPv6 ? 7 : 8) {
                    warn(item, "\(network) is 1/\(1 << network.prefixLength) of all \(network.address.isIPv6 ? "IPv6" : "IPv4") "
                             + "addresses: traffic from anywhere in it counts as inside, and is never checked as inbound")
                }
                guard listed.insert(network).inserted else {
                    warn(item, "\(network) is listed twice")
                    continue
                }
                networks.append(network)
            }
            if !networks.isEmpty {
                site.localNetworks = networks
                localNetworksName = "local_networks"
            }
        }
        if let field = optional(top, "public_addresses"), let items = items(field) {
            var addresses: [IPAddress] = []
            var listed = Set<IPAddress>()
            for item in items {
                if let address = value(item, expected: "an IP address", SiteSyntax.address) {
                    if listed.insert(address).inserted { addresses.append(address) } else { warn(item, "\(address) is listed twice") }
                }
            }
            site.publicAddresses = addresses  // once: every change rebuilds isLocal's lookup
        }
        // Inside/outside checks are only meaningful when the places themselves were read without problems.
        let placesKnown = problems.count == placesStart

        if let field = optional(top, "hosts"), let items = items(field) {
            var firstEntry: [IPNetwork: (index: Int, line: Int)] = [:]
            var firstMAC: [MACAddress: (index: Int, line: Int)] = [:]
            var entries: [InventoryEntry] = []
            for (index, item) in items.enumerated() {
                // Cross-checks use whatever parts of the entry were valid, so one bad key hides nothing else.
                let read = host(item)
                if let network = read.network, let addressField = read.addressField {
                    let line = item.value.mark?.line ?? 0
                    if let first = firstEntry[network] {
                        report(addressField,
                               "\(network) is already in the inventory as hosts[\(first.index)] (line \(first.line))")
                    } else {
                        firstEntry[network] = (index, line)
                    }
                    if placesKnown && !isInside(network, site) {
                        report(addressField, "\(network) is outside \(localNetworksName); add its network there")
                    }
                }
                if let macField = read.macField {
                    for mac in read.macs {
                        if let first = firstMAC[mac] {
                            report(macField, "\(mac) is already declared by hosts[\(first.index)] (line \(first.line)): "
                                       + "one machine, one entry")
                        } else {
                            firstMAC[mac] = (index, item.value.mark?.line ?? 0)
                        }
                    }
                }
                if let entry = read.entry { entries.append(entry) }
            }
            site.hosts = entries  // once: every change of the inventory rebuilds its lookup
        }

        if let field = optional(top, "maintenance_ports"), let items = items(field) {
            var firstName: [String: (index: Int, line: Int)] = [:]
            // A flow is matched to the first entry with its port (inside or mapped): a second one would never apply.
            var firstService: [PortKey: (index: Int, line: Int, name: String)] = [:]
            var firstMapping: [PortKey: (index: Int, line: Int, name: String)] = [:]
            for (index, item) in items.enumerated() {
                let read = maintenancePort(item)
                if let port = read.port {
                    let line = item.value.mark?.line ?? 0
                    let service = PortKey(address: port.host, port: port.port, transport: port.transport)
                    let portField = read.portField ?? item
                    if let first = firstService[service] {
                        report(portField, "\(service) is already declared as '\(first.name)' (maintenance_ports[\(first.index)], "
                                   + "line \(first.line)); only the first would ever apply: merge the two")
                    } else {
                        firstService[service] = (index, line, port.name)
                    }
                    if let address = port.externalAddress, let externalPort = port.externalPort,
                        let externalField = read.externalField
                    {
                        let mapping = PortKey(address: address, port: externalPort, transport: port.transport)
                        if let first = firstMapping[mapping] {
                            report(externalField, "\(mapping) is already the mapping of '\(first.name)' "
                                       + "(maintenance_ports[\(first.index)], line \(first.line)); one outside "
                                       + "address and port forwards to one inside port")
                        } else {
                            firstMapping[mapping] = (index, line, port.name)
                        }
                    }
                }
                if let name = read.name, let nameField = read.nameField {
                    if let first = firstName[name] {
                        report(nameField, "another maintenance port is already named '\(name)': "
                                   + "maintenance_ports[\(first.index)] (line \(first.line))")
                    } else {
                        firstName[name] = (index, item.value.mark?.line ?? 0)
                    }
                }
                if placesKnown, let host = read.host, let hostField = read.hostField,
                    let network = IPNetwork(address: host, prefixLength: host.isIPv6 ? 128 : 32),
                    !isInside(network, site)
                {
                    report(hostField, "\(host) is outside \(localNetworksName); a maintenance port is on a local host")
                }
                if placesKnown, let address = read.external, let externalField = read.externalField,
                    !site.publicAddresses.isEmpty, !site.publicAddresses.contains(address)
                {
                    report(externalField, "\(address) is not one of public_addresses")
                }
                if let port = read.port { site.maintenancePorts.append(port) }
            }
        }

        if let field = optional(top, "remote_admin_ports"), let items = items(field) {
            var ports: [PortSpec] = []
            var listed = Set<PortSpec>()
            for item in items {
                guard let spec = value(item, expected: "a port (22, 623/udp)", SiteSyntax.portSpec) else { continue }
                if listed.insert(spec).inserted {
                    ports.append(spec)
                } else {
                    warn(item, "\(spec.port)/\(spec.transport.rawValue) is listed twice")
                }
            }
            site.remoteAdminPorts = ports
        }

        if let field = optional(top, "learning"),
            let learning = fields(of: field, known: Self.learningKeys, what: "period and dormant_after")
        {
            for (key, keyPath) in [("period", \LearningSettings.period), ("dormant_after", \.dormantAfter)] {
                if let setting = optional(learning, key),
                    let duration = value(setting, expected: "a duration (24h, 7d, 1d12h)", SiteSyntax.duration)
                {
                    site.learning[keyPath: keyPath] = duration
                }
            }
        }
        return site
    }

    /// Inside `local_networks` as a whole (a subnet of one of them), or a single public address.
    func isInside(_ network: IPNetwork, _ site: Site) -> Bool {
        if site.localNetworks.contains(where: { $0.prefixLength <= network.prefixLength && $0.contains(network.address) }) {
            return true
        }
        return network.prefixLength == (network.address.isIPv6 ? 128 : 32) && site.publicAddresses.contains(network.address)
    }

    // MARK: Inventory

    /// An inventory entry as far as it could be read.
    struct ReadHost {
        var entry: InventoryEntry?
        var network: IPNetwork?
        var addressField: Field?
        var macField: Field?
        var macs: [MACAddress] = []
    }

    mutating func host(_ item: Field) -> ReadHost {
        guard let entry = fields(of: item, known: Self.hostKeys, what: "address, mac, name and state") else { return ReadHost() }
        // A host is declared by its address (or network), its MAC(s), or both.
        let macField = optional(entry, "mac")
        let addressField = macField != nil && entry["address"] == nil ? nil
            : required(entry, "address", in: item, hint: "an address or network, e.g. 10.0.5.20 or 10.0.7.0/28 "
                           + "(or declare the host by its mac: 00:11:22:33:44:55)")
        let network = addressField.flatMap { value($0, expected: "an address or network", SiteSyntax.network) }
        var macs: [MACAddress] = []
        if let macField {
            macs = self.macs(macField)
            if let network, network.prefixLength != (network.address.isIPv6 ? 128 : 32), !macs.isEmpty {
                report(macField, "\(network) is a network: a MAC names one machine, so declare it on that machine's "
                           + "own entry (a single address, or the MAC alone)")
            }
        }
        let name = required(entry, "name", in: item, hint: "the host's name").flatMap { self.name($0) }
        let state = required(entry, "state", in: item, hint: "decommissioned, idle or active").flatMap { self.state($0) }
        var allow: [AllowedActivity] = []
        if let field = optional(entry, "allow"), let items = items(field) {
            var listed = Set<AllowedActivity>()
            for item in items {
                guard let activity = allowed(item) else { continue }
                if listed.insert(activity).inserted { allow.append(activity) } else { warn(item, "\(activity) is listed twice") }
            }
            if state == .decommissioned && !items.isEmpty {
                report(field.keyMark, field.path,
                       "a decommissioned host may send nothing at all; remove allow, or declare the host idle")
            }
        }
        var read = ReadHost(network: network, addressField: addressField, macField: macField, macs: macs)
        if network != nil || addressField == nil && !macs.isEmpty, let name, let state {
            read.entry = InventoryEntry(network: network, name: name, state: state, allow: allow, macs: macs,
                                        line: item.value.mark?.line ?? 0)
        }
        return read
    }

    /// `mac:`, one MAC or a list of them, each a station's own: not a group (broadcast, multicast) MAC, not zero.
    mutating func macs(_ field: Field) -> [MACAddress] {
        let listed: [Field]
        if case .sequence = field.value { listed = items(field) ?? [] } else { listed = [field] }
        var macs: [MACAddress] = []
        for item in listed {
            guard let mac = value(item, expected: "a MAC address (00:11:22:33:44:55)", SiteSyntax.mac) else { continue }
            if macs.contains(mac) {
                warn(item, "\(mac) is listed twice")
                continue
            }
            if mac.isLocallyAdministered {
                warn(item, "\(mac) is locally administered (a randomised or software MAC): the machine may use "
                         + "another one tomorrow, and a virtual machine's can be copied; frames from it are still this host")
            }
            macs.append(mac)
        }
        return macs
    }

    mutating func state(_ field: Field) -> HostState? {
        guard let text = text(field, expected: "decommissioned, idle or active") else { return nil }
        if let state = HostState(rawValue: text.lowercased()) { return state }
        var message = "'\(text)' is not a state: use decommissioned, idle or active"
        if let close = SiteSyntax.suggestion(for: text, among: HostState.allCases.map(\.rawValue)) {
            message = "'\(text)' is not a state; did you mean '\(close)'?"
        }
        report(field, message)
        return nil
    }

    mutating func allowed(_ item: Field) -> AllowedActivity? {
        guard let text = text(item, expected: "a service name or a port") else { return nil }
        let services = AllowedActivity.services.keys.sorted()
        if AllowedActivity.services[text.lowercased()] != nil { return .service(text.lowercased()) }
        if text.first?.isNumber == true || text.contains("/") {
            do {
                return .port(try SiteSyntax.portSpec(text))
            } catch {
                report(item, error.message)
                return nil
            }
        }
        var message = "'\(text)' is not a service (\(services.joined(separator: ", "))) or a port (8080, 161/udp, tcp/8080)"
        if let close = SiteSyntax.suggestion(for: text, among: services) {
            message = "'\(text)' is not a known service; did you mean '\(close)'?"
        }
        report(item, message)
        return nil
    }

    // MARK: Maintenance ports

    /// A maintenance port as far as it could be read.
    struct ReadMaintenancePort {
        var port: MaintenancePort?
        var name: String?
        var nameField: Field?
        var host: IPAddress?
        var hostField: Field?
        var external: IPAddress?
        var externalField: Field?
        var portField: Field?
    }

    /// An address, port and transport, as a maintenance port or its mapping is matched.
    struct PortKey: Hashable, CustomStringConvertible {
        var address: IPAddress
        var port: UInt16
        var transport: TransportProtocol

        var description: String {
            (address.isIPv6 ? "[\(address)]" : "\(address)") + ":\(port)/\(transport.rawValue)"
        }
    }

    mutating func maintenancePort(_ item: Field) -> ReadMaintenancePort {
        guard let entry = fields(of: item, known: Self.maintenanceKeys, what: "name, host and port") else {
            return ReadMaintenancePort()
        }
        let nameField = required(entry, "name", in: item, hint: "a name for this access path, e.g. vendor-ssh")
        let name = nameField.flatMap { self.name($0) }
        let hostField = required(entry, "host", in: item, hint: "the internal host's address")
        let host = hostField.flatMap { value($0, expected: "an IP address", SiteSyntax.address) }
        let portField = required(entry, "port", in: item, hint: "the internal port, 1-65535")
        let port = portField.flatMap {
            value($0, expected: "a port number (1-65535)") { (text: String) throws(SiteValueError) in
                try SiteSyntax.port(text)
            }
        }
        var transport = TransportProtocol.tcp
        if let field = optional(entry, "proto"),
            let value = value(field, expected: "tcp or udp", { (text: String) throws(SiteValueError) in
                try SiteSyntax.transport(text)
            })
        {
            transport = value
        }
        let externalField = optional(entry, "external")
        let external = externalField.flatMap { value($0, expected: "ADDRESS:PORT", SiteSyntax.endpoint) }
        var sources: [IPNetwork] = []
        if let field = optional(entry, "allowed_sources"), let items = items(field) {
            var listed = Set<IPNetwork>()
            for item in items {
                if let network = value(item, expected: "a network or an address", SiteSyntax.network) {
                    if listed.insert(network).inserted { sources.append(network) } else { warn(item, "\(network) is listed twice") }
                }
            }
        }
        var windows: [MaintenanceWindow] = []
        if let field = optional(entry, "windows"), let items = items(field) {
            if items.isEmpty {
                // The empty list of allowed_sources means nobody; the same for windows would mean never, but the
                // sensor reads no windows as any time. Refused rather than guessed.
                report(field.keyMark, field.path, "is empty, which would mean any time (as if the key were left out), "
                           + "while allowed_sources: [] means nobody; leave windows out for any time, or set "
                           + "closed: true for a port that must never be used")
            }
            for item in items {
                if let window = value(item, expected: "a window such as \"Sat 01:00-05:00\"", SiteSyntax.window) {
                    windows.append(window)
                }
            }
        }
        let expires = optional(entry, "expires").flatMap {
            value($0, expected: "a date YYYY-MM-DD", SiteSyntax.expiry)
        }
        var closed = false
        if let field = optional(entry, "closed"), let value = boolean(field) { closed = value }

        var read = ReadMaintenancePort(name: name, nameField: nameField, host: host, hostField: hostField,
                                       external: external?.0, externalField: externalField, portField: portField)
        if let name, let host, let port {
            read.port = MaintenancePort(
                name: name, host: host, port: port, transport: transport, externalAddress: external?.0,
                externalPort: external?.1, allowedSources: sources, windows: windows, expiresAt: expires, closed: closed,
                line: item.value.mark?.line ?? 0)
        }
        return read
    }

    // MARK: Nodes

    /// An empty value: a plain `~`, `null` or nothing at all.
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar): isNull(node) ? "an empty value" : "'\(scalar.string)'"
        }
    }

    /// The known keys of a mapping; reports a value that is not a mapping, keys that are not text, and unknown
    /// keys (with the nearest known key when it looks like a typo).
    mutating func fields(of field: Field, known: [String], what: String) -> [String: Field]? {
        guard case .mapping(let mapping) = field.value else {
            report(field, "expected a mapping of \(what), found \(describe(field.value))")
            return nil
        }
        var result: [String: Field] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key, !isNull(key) else {
                report(key.mark, field.path, "a key must be a name, found \(describe(key))")
                continue
            }
            let name = scalar.string
            let path = field.path.isEmpty ? name : "\(field.path).\(name)"
            guard known.contains(name) else {
                if let close = SiteSyntax.suggestion(for: name, among: known) {
                    report(key.mark, path, "unknown key; did you mean '\(close)'?")
                } else {
                    report(key.mark, path, "unknown key; expected one of \(known.joined(separator: ", "))")
                }
                continue
            }
            result[name] = Field(value: value, path: path, keyMark: key.mark)
        }
        return result
    }

    /// An optional key's field; nil when absent or empty.
    func optional(_ fields: [String: Field], _ key: String) -> Field? {
        guard let field = fields[key], !isNull(field.value) else { return nil }
        return field
    }

    /// A required key's field; reports it when absent or empty.
    mutating func required(_ fields: [String: Field], _ key: String, in parent: Field, hint: String) -> Field? {
        guard let field = fields[key] else {
            report(parent.value.mark, "\(parent.path).\(key)", "missing (required): \(hint)")
            return nil
        }
        guard !isNull(field.value) else {
            report(field.keyMark, field.path, "is empty (required): \(hint)")
            return nil
        }
        return field
    }

    /// The items of a list with their paths (`key[0]`, `key[1]`...); nil (reported) when the value is not a list.
    mutating func items(_ field: Field) -> [Field]? {
        guard case .sequence(let sequence) = field.value else {
            report(field, "expected a list, found \(describe(field.value))")
            return nil
        }
        return sequence.enumerated().map { Field(value: $1, path: "\(field.path)[\($0)]", keyMark: $1.mark) }
    }

    /// The text of a scalar; reports lists, mappings and empty values.
    mutating func text(_ field: Field, expected: String) -> String? {
        guard case .scalar(let scalar) = field.value, !isNull(field.value) else {
            report(field, "expected \(expected), found \(describe(field.value))")
            return nil
        }
        return scalar.string
    }

    /// A scalar read by one of `SiteSyntax`'s parsers; its complaint is reported at the value.
    mutating func value<T>(_ field: Field, expected: String, _ parse: (String) throws(SiteValueError) -> T) -> T? {
        guard let text = text(field, expected: expected) else { return nil }
        do {
            let result = try parse(text)
            noteIPv4Mapped(field, text: text, result)
            return result
        } catch {
            report(field, error.message)
            return nil
        }
    }

    /// IPv6 text that `SiteSyntax` read as IPv4 (an IPv4-mapped address) is used as IPv4, and said so: the author
    /// wrote IPv6, and may have meant to.
    mutating func noteIPv4Mapped(_ field: Field, text: String, _ value: Any) {
        let shown: String
        switch value {
        case let network as IPNetwork where !network.address.isIPv6 && text.contains(":"): shown = network.description
        case let address as IPAddress where !address.isIPv6 && text.contains(":"): shown = address.description
        case let (address, port) as (IPAddress, UInt16) where !address.isIPv6 && text.hasPrefix("["):
            shown = "\(address):\(port)"
        default: return
        }
        warn(field, "'\(text)' is an IPv4-mapped IPv6 address, read as \(shown): IPv4 packets carry the IPv4 form, "
                 + "which the mapped form never matches; write \(shown)")
    }

    mutating func name(_ field: Field) -> String? {
        guard let text = text(field, expected: "a name") else { return nil }
        guard !text.allSatisfy(\.isWhitespace) else {
            report(field, "must not be empty")
            return nil
        }
        // Names are written into alert lines, syslog messages and reports: a control character there forges a line
        // or rewrites what the terminal shows, so none is accepted (YAML's "\n", "\e", "\0" escapes make them).
        if let (offset, scalar) = text.unicodeScalars.enumerated().first(where: { DisplayText.isUnsafe($0.element) }) {
            report(field, "holds \(DisplayText.describe(scalar)) at character \(offset + 1); names are shown in alert "
                       + "lines, syslog and reports, so control, line-separator and bidirectional-override characters "
                       + "are refused")
            return nil
        }
        guard text.utf8.count <= DisplayText.maximumNameBytes else {
            report(field, "is \(text.utf8.count) bytes long; a name is at most \(DisplayText.maximumNameBytes) bytes "
                       + "(UTF-8), as a DNS name")
            return nil
        }
        return text
    }

    /// YAML 1.1's booleans (true/false, yes/no, on/off, any case), as Yams resolves them.
    mutating func boolean(_ field: Field) -> Bool? {
        guard let text = text(field, expected: "true or false") else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(field, "'\(text)' is not true or false")
            return nil
        }
    }
}
