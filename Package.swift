// swift-tools-version: 6.0
// IdleWatch: a network sensor that alerts when idle hosts talk and when the outside reaches maintenance ports.
// Module layout follows ../shared/DESIGN.md: one module per stage of the data flow, C confined to PacketCapture.
import PackageDescription

let package = Package(
    name: "IdleWatch",
    // Builds and runs on Linux only (Debian 12 and later with Swift 6): the sensor uses Glibc, prctl and seccomp,
    // fopencookie, /proc and CLOCK_MONOTONIC_COARSE. SwiftPM cannot name Linux here; the macOS entry is only a
    // deployment floor for tools that resolve the package on a Mac (it does not build there).
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "idlewatch", targets: ["idlewatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // libpcap, found through pkg-config (Debian: libpcap-dev).
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        // The only importer of CPcap: offline and live sources, BPF filters, capture statistics.
        .target(name: "PacketCapture", dependencies: ["CPcap", "PacketDecoding"]),
        // Standard library only: header views over borrowed bytes and the packet summary.
        .target(name: "PacketDecoding"),
        // Tables whose memory stays fixed under floods: the hash index behind the flow and host tables, the
        // arrival-order table that forgets its oldest entry first.
        .target(name: "BoundedTables", dependencies: ["PacketDecoding", "StateCoding"]),
        // The fixed-width encoding each stage writes its own saved state in (the state store keeps the bytes).
        .target(name: "StateCoding", dependencies: ["PacketDecoding"]),
        // Flow keys, the flow table, TCP state, packet-time timeouts, flow events.
        .target(name: "FlowTracking", dependencies: ["PacketDecoding", "BoundedTables", "StateCoding"]),
        // Records for people and machines: text lines, EVE-style JSON lines, Community ID.
        .target(
            name: "OutputSinks",
            dependencies: ["FlowTracking", "PacketDecoding", "Detection", "SiteModel",
                           .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The host table: first/last seen, client and server activity, decayed baselines, learned services.
        .target(name: "HostBaselines", dependencies: ["PacketDecoding", "BoundedTables", "StateCoding"]),
        // The site file: local networks, the inventory with each host's expected state, maintenance ports.
        .target(name: "SiteModel", dependencies: ["PacketDecoding", .product(name: "Yams", package: "Yams")]),
        // One detection per file, alerts with stable rule ids, suppression and incident linking.
        .target(
            name: "Detection",
            dependencies: ["FlowTracking", "HostBaselines", "SiteModel", "PacketDecoding", "BoundedTables", "StateCoding"]
        ),
        // The state file (SQLite through GRDB): learned hosts, baselines, services, open flows and detection
        // windows, saved atomically so a replay can seed a live sensor; and the hosts report read from it.
        .target(
            name: "StateStore",
            dependencies: ["Detection", "HostBaselines", "FlowTracking", "SiteModel", "PacketDecoding", "OutputSinks",
                           "StateCoding",
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        // The per-packet pipeline (decode -> flows -> sinks), replay ordering, counters and the summary.
        .target(
            name: "Sensor",
            dependencies: ["PacketCapture", "PacketDecoding", "FlowTracking", "HostBaselines", "SiteModel", "Detection",
                           "OutputSinks", "StateStore", "StateCoding"]
        ),
        .executableTarget(
            name: "idlewatch",
            dependencies: ["Sensor", "PacketCapture", "OutputSinks", "SiteModel", "Detection", "HostBaselines", "StateStore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // A reproducible synthetic capture of a site's traffic and its site file, for benchmarks and scale tests.
        .executableTarget(
            name: "idlewatch-synth",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "HeapModule", package: "swift-collections")]
        ),
        // Hostile input: runs fuzzer inputs (framed packets, or whole capture files) through the whole pipeline
        // with small tables. The fuzz target and the regression tests share it, so a found crash replays in tests.
        .target(name: "FuzzHarness", dependencies: ["Sensor", "PacketCapture", "PacketDecoding", "SiteModel", "OutputSinks"]),
        // libFuzzer's driver entry point, declared only (the toolchain's libFuzzer defines it in fuzzing builds).
        .systemLibrary(name: "CLibFuzzer"),
        // The libFuzzer target, built by scripts/fuzz; in an ordinary build, a replayer of fuzz inputs.
        .executableTarget(name: "idlewatch-fuzz", dependencies: ["FuzzHarness", "Sensor", "CLibFuzzer"]),
        .testTarget(name: "PacketDecodingTests", dependencies: ["PacketDecoding"]),
        .testTarget(name: "BoundedTablesTests", dependencies: ["BoundedTables", "PacketDecoding", "StateCoding"]),
        .testTarget(name: "PacketCaptureTests", dependencies: ["PacketCapture", "PacketDecoding"]),
        .testTarget(name: "FlowTrackingTests", dependencies: ["FlowTracking", "PacketDecoding", "StateCoding"]),
        .testTarget(
            name: "OutputSinksTests",
            dependencies: ["OutputSinks", "FlowTracking", "PacketDecoding", "Detection", "SiteModel"]
        ),
        .testTarget(
            name: "DetectionTests",
            dependencies: ["Detection", "FlowTracking", "HostBaselines", "SiteModel", "PacketDecoding", "StateCoding"]
        ),
        .testTarget(name: "SiteModelTests", dependencies: ["SiteModel", "PacketDecoding"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Sensor", "PacketCapture", "PacketDecoding", "FlowTracking", "Detection", "SiteModel", "StateStore",
                           "HostBaselines", "idlewatch", "idlewatch-synth", "FuzzHarness", .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ]
)
