// swift-tools-version: 6.1
import PackageDescription

// Swiftlet's microbenchmarks (ordo-one/benchmark): the request parser, the reply encoder,
// key lookup, each data type's hot operation, and whole commands through the connection's
// state machine without sockets. A package of its own, so `make test` never builds the
// benchmark framework; `make bench` runs it. See docs/PERFORMANCE.md.
let package = Package(
    name: "SwiftletBenchmarks",
    dependencies: [
        .package(name: "Swiftlet", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SwiftletBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwiftletEngine", package: "Swiftlet"),
            ],
            path: "Benchmarks/SwiftletBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
