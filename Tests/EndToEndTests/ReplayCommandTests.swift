// `idlewatch replay` as a user runs it: the built executable, real files, exit status, standard output and error.

import Foundation
import Testing

@Suite("idlewatch replay")
struct ReplayCommandTests {
    let sshGuess = TestPaths.corpusFile("zeek/ssh__sshguess.pcap")

    @Test("--flows --format json writes one EVE-style JSON object per line")
    func jsonFlowRecords() throws {
        let result = try runIdleWatch(["replay", "--no-alerts", "--flows", "--format", "json", sshGuess])
        #expect(result.status == 0, "\(result.standardError)")
        let records = try parseJSONLines(result.standardOutput)
        #expect(records.count == 11)
        let timestampPattern = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"#)
        for record in records {
            #expect(record["event_type"] as? String == "flow")
            #expect(record["src_ip"] as? String == "192.168.56.1")
            #expect(record["dest_ip"] as? String == "192.168.56.103")
            #expect(record["dest_port"] as? Int == 22)
            #expect((record["src_port"] as? Int).map { (55470...55480).contains($0) } == true)
            #expect(record["proto"] as? String == "TCP")
            #expect((record["community_id"] as? String)?.hasPrefix("1:") == true)
            let timestamp = try #require(record["timestamp"] as? String)
            #expect(timestamp.wholeMatch(of: timestampPattern) != nil, "\(timestamp)")
            let flow = try #require(record["flow"] as? [String: Any])
            for key in ["pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"] {
                #expect((flow[key] as? Int).map { $0 > 0 } == true, "flow.\(key)")
            }
            #expect(flow["state"] as? String == "SF")
            let start = try #require(flow["start"] as? String), end = try #require(flow["end"] as? String)
            #expect(start.wholeMatch(of: timestampPattern) != nil && end.wholeMatch(of: timestampPattern) != nil)
            #expect(start < end)
        }
        let packets = records.reduce(0) { total, record in
            let flow = record["flow"] as! [String: Any]
            return total + (flow["pkts_toserver"] as! Int) + (flow["pkts_toclient"] as! Int)
        }
        #expect(packets == 431)
        #expect(Set(records.compactMap { $0["community_id"] as? String }).count == 11)
    }

    @Test("the summary on standard error counts packets, flows and the time span")
    func summary() throws {
        let result = try runIdleWatch(["replay", sshGuess])
        #expect(result.status == 0)
        #expect(result.standardOutput.isEmpty, "flow records are off without --flows")
        #expect(result.standardError.contains("1 file, 431 packets"))
        #expect(result.standardError.contains("flows: 11 "))
        #expect(result.standardError.contains("2015-03-30T14:44:49.213953Z to 2015-03-30T14:45:59.306612Z"))
    }

    @Test("the same capture gives the same output, byte for byte")
    func deterministic() throws {
        let file = TestPaths.corpusFile("nDPI/synscan.pcap")
        let first = try runIdleWatch(["replay", "--no-alerts", "--flows", "--format", "json", file])
        let second = try runIdleWatch(["replay", "--no-alerts", "--flows", "--format", "json", file])
        #expect(first.standardOutput == second.standardOutput)
        #expect(first.outputLines.count == 1994)
    }

    @Test("a trailing BPF expression filters, as with tcpdump, and -r makes every argument the filter")
    func filter() throws {
        let result = try runIdleWatch(["replay", "--no-alerts", "--flows", sshGuess, "tcp", "port", "55470"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.outputLines.count == 1)
        #expect(result.standardOutput.contains("192.168.56.1:55470 -> 192.168.56.103:22 SF"))
        let withR = try runIdleWatch(["replay", "--no-alerts", "--flows", "-r", sshGuess, "port", "55471", "or", "port", "55472"])
        #expect(withR.outputLines.count == 2)
    }

    @Test("a bad filter stops with libpcap's message before reading")
    func badFilter() throws {
        let result = try runIdleWatch(["replay", "--no-alerts", "--flows", sshGuess, "tcp", "prot", "22"])
        #expect(result.status != 0)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.contains("bad filter expression 'tcp prot 22'"))
        #expect(result.standardError.contains("syntax error"))
    }

    @Test("an unreadable file gives a one-line error naming it and a non-zero exit status")
    func unreadableFile() throws {
        let bad = TestPaths.corpusFile("libpcap/pcap-invalid-version-1.pcap")
        let result = try runIdleWatch(["replay", bad])
        #expect(result.status == 1)
        let errorLines = result.standardError.split(separator: "\n").filter { $0.contains("error:") }
        #expect(errorLines.count == 1)
        #expect(errorLines.first?.contains("\(bad): archaic pcap savefile format") == true)
    }

    @Test("a file cut in the middle of a record: packets before the cut are processed, the error names the file")
    func truncatedFile() throws {
        let cut = TestPaths.corpusFile("dpkt/truncated_dns_2.pcap")
        let result = try runIdleWatch(["replay", "--no-alerts", "--flows", cut])
        #expect(result.status == 1)
        #expect(result.standardError.contains("\(cut): truncated dump file"))
        #expect(result.standardError.contains("after 1 packets"))
        #expect(result.outputLines.count == 1, "the flow of the one complete packet is still written")
    }

    @Test("a missing file is named")
    func missingFile() throws {
        let result = try runIdleWatch(["replay", "/nonexistent/capture.pcap"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("/nonexistent/capture.pcap: no such file or directory"))
    }

    @Test("- reads standard input")
    func standardInput() throws {
        let result = try runIdleWatch(["replay", "--no-alerts", "--flows", "-"], standardInput: URL(fileURLWithPath: sshGuess))
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.outputLines.count == 11)
    }

    @Test("a directory is read recursively; files that are not captures are skipped and counted")
    func directory() throws {
        let directory = TestPaths.temporaryDirectory()
        let nested = directory.appendingPathComponent("day2")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: sshGuess, toPath: directory.appendingPathComponent("a.pcap").path)
        try FileManager.default.copyItem(atPath: TestPaths.corpusFile("nDPI/synscan.pcap"),
                                         toPath: nested.appendingPathComponent("b.pcap").path)
        try "notes".write(to: directory.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        let result = try runIdleWatch(["replay", "--no-alerts", "--flows", directory.path])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.outputLines.count == 11 + 1994)
        #expect(result.standardError.contains("2 files, 2442 packets"))
        #expect(result.standardError.contains("not captures: 1 file"))
        // synscan (2010) comes before sshguess (2015) whatever the names say.
        #expect(result.outputLines.first?.hasPrefix("2010-") == true)
        #expect(result.outputLines.last?.hasPrefix("2015-") == true)
    }

    @Test("a compressed capture is refused with the command that decompresses it")
    func compressed() throws {
        let gz = TestPaths.corpusFile("zeek/contentline__telnet-long-line-no-eol.pcapng.gz")
        let result = try runIdleWatch(["replay", gz])
        #expect(result.status == 1)
        #expect(result.standardError.contains("gzip-compressed: `zcat '\(gz)' | idlewatch replay -`"))
    }

    @Test("the command the compressed-file error gives reads the capture (capinfos counts 13987 packets)")
    func decompressionCommandWorks() throws {
        let gz = TestPaths.corpusFile("zeek/contentline__telnet-long-line-no-eol.pcapng.gz")
        // sh() adds 2>&1 to the whole command: the group keeps idlewatch's summary (standard error) and drops the rest.
        let output = try sh("{ zcat '\(gz)' | '\(TestPaths.executable)' replay --no-alerts --no-progress - > /dev/null; }")
        #expect(output.contains("idlewatch: 1 file, 13987 packets"), "\(output)")
    }

    @Test("a pcapng file whose interfaces have different link types is read whole, as a file and on standard input")
    func mixedInterfacePcapng() throws {
        // Wireshark reads 159 packets (59 Ethernet, 100 Linux cooked); libpcap stops after 59. The second packet is
        // stamped 2061 between two of 2015: an outlier, counted and not analysed (PacketClock.swift).
        let file = TestPaths.corpusFile("PcapPlusPlus/pcapng-example.pcapng")
        for (arguments, input) in [([file], nil), (["-"], URL(fileURLWithPath: file))] {
            let result = try runIdleWatch(["replay", "--no-alerts", "--no-progress"] + arguments, standardInput: input)
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardError.contains("idlewatch: 1 file, 158 packets"), "\(result.standardError)")
            #expect(result.standardError.contains("timestamps: 1 packet stamped more than a day ahead of the packets "
                + "around it, not analysed (the first stamped 2061-09-21T12:39:57.938836Z"), "\(result.standardError)")
        }
    }
}

@Suite("JSON Schema")
struct JSONSchemaTests {
    /// Every line idlewatch writes with --format json, alerts and flow records, on captures that raise every kind
    /// of alert this suite knows of, validates against the schema shipped in schema/.
    @Test("alert and flow lines validate against schema/idlewatch-eve.schema.json")
    func outputMatchesSchema() throws {
        let directory = TestPaths.temporaryDirectory()
        let site = directory.appendingPathComponent("site.yaml")
        try """
            local_networks: [192.168.0.1/32, 64.13.134.52/32, 192.168.1.0/24]
            hosts: [{ address: 192.168.0.1, name: old-plc, state: active }]
            maintenance_ports: [{ name: old-plc-telnet, host: 192.168.0.1, port: 23, proto: tcp, closed: true }]
            """.write(to: site, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("out.json")
        let result = try runIdleWatch(["replay", "--flows", "--format", "json", "--site", site.path,
                                       TestPaths.corpusFile("suricata-verify/telnet__telnet-01__telnet.pcap"),
                                       TestPaths.corpusFile("nDPI/synscan.pcap"),
                                       TestPaths.corpusFile("zeek/nmap-vsn.pcap")])
        #expect(result.status == 0)
        try result.standardOutput.write(to: output, atomically: true, encoding: .utf8)
        let records = try parseJSONLines(result.standardOutput)
        #expect(records.contains { $0["event_type"] as? String == "alert" })
        #expect(records.contains { $0["event_type"] as? String == "flow" })
        #expect(records.contains { $0["event_type"] as? String == "alert_summary" }, "the scans' closing records")
        // The first Python that has jsonschema: the one on PATH, else Debian's (python3-jsonschema, which
        // scripts/install-deps.sh installs), which a private Python on PATH (pyenv) does not see.
        let python = try sh("for p in python3 /usr/bin/python3; do $p -c 'import jsonschema' 2>/dev/null && { echo $p; exit; }; done; echo python3")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let validation = try sh("\(python) \(TestPaths.packageRoot.path)/scripts/validate-eve.py < \(output.path)")
        #expect(validation.contains("valid records"))
    }
}

@discardableResult
func sh(_ command: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command + " 2>&1"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ShellError(output: output) }
    return output
}

struct ShellError: Error, CustomStringConvertible {
    let output: String
    var description: String { output }
}

@Suite("idlewatch check-site")
struct CheckSiteCommandTests {
    @Test("the issue's example site file (examples/site.yaml) is accepted and summarised")
    func acceptsExample() throws {
        let file = TestPaths.packageRoot.appendingPathComponent("examples/site.yaml")
        let result = try runIdleWatch(["check-site", file.path])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("ok: 3 local networks"))
        #expect(result.standardOutput.contains("3 hosts (1 decommissioned, 1 idle, 1 active)"))
    }

    @Test("every problem is named with its line and key, and replay refuses the file before reading packets")
    func reportsProblems() throws {
        let file = TestPaths.temporaryDirectory().appendingPathComponent("bad.yaml")
        try """
            local_networks: [10.0.0.0/8]
            hosts:
              - { address: 10.0.0.1, name: a, state: idel }
              - { address: 10.0.0.256, name: b, state: idle }
            learning: { dormant_afer: 3d }
            """.write(to: file, atomically: true, encoding: .utf8)
        let check = try runIdleWatch(["check-site", file.path])
        #expect(check.status == 1)
        let lines = check.standardError.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("\(file.path):3:") && $0.contains("hosts[0].state") })
        #expect(lines.contains { $0.hasPrefix("\(file.path):4:") && $0.contains("hosts[1].address") })
        #expect(lines.contains { $0.hasPrefix("\(file.path):5:") && $0.contains("dormant_after") })
        let replay = try runIdleWatch(["replay", "--site", file.path, TestPaths.corpusFile("zeek/ssh__sshguess.pcap")])
        #expect(replay.status != 0)
        #expect(replay.standardOutput.isEmpty)
        #expect(!replay.standardError.contains("packets"), "no packet was read")
        for line in lines where line.hasPrefix(file.path) { #expect(replay.standardError.contains(line)) }
    }
}

@Suite("idlewatch replay: awkward inputs")
struct AwkwardInputTests {
    @Test("a directory with symbolic-link cycles is read once, without hanging")
    func symlinkCycle() throws {
        let directory = TestPaths.temporaryDirectory()
        try FileManager.default.copyItem(atPath: TestPaths.corpusFile("zeek/ssh__sshguess.pcap"),
                                         toPath: directory.appendingPathComponent("a.pcap").path)
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("loop1").path,
                                                   withDestinationPath: ".")
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("loop2").path,
                                                   withDestinationPath: directory.path)
        let result = try runIdleWatch(["replay", directory.path])
        #expect(result.status == 0)
        #expect(result.standardError.contains("1 file, 431 packets"))
    }

    @Test("a FIFO named on the command line is read once, from the scan on (as process substitution gives)")
    func fifo() throws {
        let directory = TestPaths.temporaryDirectory()
        let fifo = directory.appendingPathComponent("capture.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // The writer blocks until idlewatch opens the FIFO, then sends the capture once.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "cat '\(TestPaths.corpusFile("zeek/ssh__sshguess.pcap"))' > '\(fifo)'"]
        try writer.run()
        let result = try runIdleWatch(["replay", "--no-alerts", "--flows", fifo])
        writer.waitUntilExit()
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.outputLines.count == 11)
    }

    @Test("FIFOs inside a directory are skipped, not opened")
    func fifoInDirectory() throws {
        let directory = TestPaths.temporaryDirectory()
        #expect(mkfifo(directory.appendingPathComponent("stuck.fifo").path, 0o600) == 0)
        try FileManager.default.copyItem(atPath: TestPaths.corpusFile("zeek/ssh__sshguess.pcap"),
                                         toPath: directory.appendingPathComponent("a.pcap").path)
        let result = try runIdleWatch(["replay", directory.path])
        #expect(result.status == 0)
        #expect(result.standardError.contains("1 file, 431 packets"))
    }
}

@Suite("idlewatch replay: memory caps")
struct MemoryCapTests {
    @Test("--host-capacity bounds each side of the host table and the summary counts evictions")
    func hostCapacity() throws {
        // nDPI/rmcp.pcap has 12 distinct outside addresses (6 sources, 6 destinations, none private), one of them
        // the loopback address 127.36.88.103, which is no host: 11 hosts, 4 held.
        let result = try runIdleWatch(["replay", "--host-capacity", "4", TestPaths.corpusFile("nDPI/rmcp.pcap")])
        #expect(result.status == 0)
        #expect(result.standardError.contains("hosts: 4 (7 evicted)"), "\(result.standardError)")
    }
}

@Suite("Determinism")
struct DeterminismTests {
    @Test("the main job gives the same alerts, byte for byte, on every run")
    func alertsAreReproducible() throws {
        let arguments = ["replay", "--format", "json", "--site", TestPaths.captures.appendingPathComponent("site.yaml").path,
                         TestPaths.captures.path]
        let first = try runIdleWatch(arguments)
        let second = try runIdleWatch(arguments)
        #expect(first.status == 0 && second.status == 0)
        #expect(!first.standardOutput.isEmpty)
        #expect(first.standardOutput == second.standardOutput)
    }
}
