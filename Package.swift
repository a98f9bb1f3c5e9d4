// swift-tools-version: 6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    // Release builds are plain -O: Swift's bounds and overflow checks stay on (a server
    // parsing network input must stop on a bad index, not write past it). `-assert-config
    // Debug` keeps the standard library's debug checks as well: under -O alone, subscripts
    // and loads of unsafe buffer pointers (`withUnsafeBytes { $0[i] }`) are not checked,
    // and with it they trap like an array's (docs/SAFETY.md; about 4-12% more instructions
    // per command, measured with callgrind). Dynamic exclusivity checks are left to debug
    // builds (swift test): in release they would cost a runtime call with a thread-local
    // lookup per class-property access — 2.9× the instructions of a GET (12 285 against
    // 4 2xx, callgrind) — while the compiler still proves exclusivity statically everywhere
    // it can, and the server's state is confined to its one event loop. Cross-module
    // optimization lets small accessors inline across modules.
    .unsafeFlags(
        ["-assert-config", "Debug", "-enforce-exclusivity=unchecked", "-cross-module-optimization"],
        .when(configuration: .release))
]

let package = Package(
    name: "Swiftlet",
    // Swiftlet builds for Linux (Debian, Swift 6.3): SwiftPM has no Linux platform entry, so
    // none is listed; the server uses Linux interfaces (epoll through NIO, /proc, malloc_trim).
    products: [
        .executable(name: "swiftlet-server", targets: ["swiftlet-server"]),
        .executable(name: "swiftlet-check-rdb", targets: ["swiftlet-check-rdb"]),
        .executable(name: "swiftlet-check-aof", targets: ["swiftlet-check-aof"]),
        .executable(name: "swiftlet-cli", targets: ["swiftlet-cli"]),
        // The server without its network, for the Benchmarks package (Benchmarks/).
        .library(
            name: "SwiftletEngine",
            targets: [
                "CSupport", "ByteStorage", "RESP", "Cluster", "DataStore", "ServerConfig", "Server", "Scripting",
                "Commands",
            ]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(name: "CSupport"),
        // Lua 5.1 as Redis embeds it, from Debian's liblua5.1-0-dev, lua-cjson-dev and
        // lua-bitop-dev (`make` installs them).
        .target(
            name: "CScripting",
            dependencies: ["CSupport"],
            linkerSettings: [
                .linkedLibrary("lua5.1"), .linkedLibrary("lua5.1-cjson"), .linkedLibrary("lua5.1-bitop"),
            ]
        ),
        .target(name: "ByteStorage", swiftSettings: swiftSettings),
        .target(name: "RESP", dependencies: ["ByteStorage"], swiftSettings: swiftSettings),
        // Redis Cluster's pieces that know nothing of sockets: hash slots, the bus's messages.
        .target(name: "Cluster", dependencies: ["ByteStorage"], swiftSettings: swiftSettings),
        .target(
            name: "DataStore",
            dependencies: [
                "CSupport", "ByteStorage", "Cluster",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "ServerConfig", dependencies: ["RESP"], swiftSettings: swiftSettings),
        // What Redis's command table says about each command, as typed rows (generated from a
        // reference redis-server, later commands by hand), and COMMAND INFO/DOCS from them.
        .target(name: "CommandFacts", dependencies: ["RESP"], swiftSettings: swiftSettings),
        .target(
            name: "Persistence",
            dependencies: ["DataStore", "RESP", .product(name: "OrderedCollections", package: "swift-collections")],
            swiftSettings: swiftSettings
        ),
        // The server's core: state, sessions, the dispatcher, ACL, eviction, INFO, AOF and
        // snapshots, the script engine. It names no command family.
        .target(
            name: "Server",
            dependencies: [
                "RESP", "DataStore", "ServerConfig", "CSupport", "CScripting", "Persistence", "CommandFacts", "Cluster",
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The script engine (EVAL, FUNCTION) over CScripting; the core sees it as a
        // ScriptRuntime.
        .target(
            name: "Scripting",
            dependencies: ["Server", "RESP", "DataStore", "CScripting", "Persistence", "CommandFacts"],
            swiftSettings: swiftSettings
        ),
        // The command families and their registration (CommandTable.standard()).
        .target(
            name: "Commands",
            dependencies: [
                "Server", "Scripting", "RESP", "DataStore", "ServerConfig", "CSupport", "CScripting", "Persistence",
                "CommandFacts", "Cluster",
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        // For tests: the in-process command runner (no sockets) with a manual clock and
        // several clients of one server.
        .target(
            name: "CommandTestSupport",
            dependencies: ["Server", "Scripting", "Commands", "RESP", "DataStore", "ServerConfig"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ServerRuntime",
            dependencies: [
                "RESP", "DataStore", "ServerConfig", "Server", "Scripting", "Commands",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftlet-server",
            dependencies: [
                "ServerRuntime", "ServerConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swiftlet-check-rdb", dependencies: ["Persistence", "DataStore"], swiftSettings: swiftSettings),
        .executableTarget(name: "swiftlet-cli", dependencies: ["RESP"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "swiftlet-check-aof", dependencies: ["Persistence", "DataStore"], swiftSettings: swiftSettings),
        .testTarget(name: "RESPTests", dependencies: ["RESP"], swiftSettings: swiftSettings),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster"], swiftSettings: swiftSettings),
        .testTarget(name: "DataStoreTests", dependencies: ["DataStore", "Cluster"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PersistenceTests", dependencies: ["Persistence", "DataStore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CommandsTests",
            dependencies: [
                "Server", "Scripting", "Commands", "RESP", "DataStore", "ServerConfig", "CommandFacts",
                "CommandTestSupport", "Persistence", "Cluster",
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
