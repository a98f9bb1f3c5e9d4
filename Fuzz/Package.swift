// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses for the code that reads untrusted bytes: the request parser, the RDB
// loader, the AOF reader and manifest, RESTORE payloads, the configuration-file parser, the
// ACL rule parser, cluster-bus frames and nodes.conf. A package of its own (like
// Benchmarks/), built only by `make fuzz` with `-sanitize=fuzzer,address`; each harness is
// a `LLVMFuzzerTestOneInput`, libFuzzer supplies `main`. Seed corpora are in
// Fuzz/Corpus/<harness>/.
let package = Package(
    name: "SwiftletFuzz",
    dependencies: [.package(name: "Swiftlet", path: "..")],
    targets: [
        "FuzzRequestParser", "FuzzRDB", "FuzzAOF", "FuzzRestore", "FuzzConfig", "FuzzACL", "FuzzBusMessage",
    ].map {
        .executableTarget(name: $0, dependencies: [.product(name: "SwiftletEngine", package: "Swiftlet")])
    }
)
