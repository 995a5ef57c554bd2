// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Mechanic",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Mechanic", targets: ["Mechanic", "MechanicAnalysis"]),
        .executable(name: "mechanic", targets: ["mechanic"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `mechanic serve` only.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // BLAS: OpenBLAS through pkg-config on Linux, Accelerate on Apple platforms.
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(name: "MechanicTensor", dependencies: [.target(name: "CBLAS", condition: .when(platforms: [.linux]))]),
        .target(name: "MechanicIO", dependencies: ["MechanicTensor"]),
        .target(name: "MechanicTokenizers"),
        .target(name: "Mechanic", dependencies: ["MechanicTensor", "MechanicIO", "MechanicTokenizers"]),
        .target(name: "MechanicAnalysis", dependencies: ["Mechanic"]),
        // What `mechanic bench` times (patching sweeps and their multiply-add floor, tokenizer throughput).
        .target(name: "MechanicBench", dependencies: ["MechanicAnalysis"]),
        // `mechanic demo`: the toolkit's workflow on a model with a known circuit, as one report.
        .target(name: "MechanicDemo", dependencies: ["MechanicAnalysis"]),
        .executableTarget(name: "mechanic", dependencies: [
            "Mechanic", "MechanicAnalysis", "MechanicBench", "MechanicDemo",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .testTarget(name: "MechanicTensorTests", dependencies: ["MechanicTensor"]),
        .testTarget(name: "MechanicIOTests", dependencies: ["MechanicIO"]),
        .testTarget(name: "MechanicTokenizersTests", dependencies: ["MechanicTokenizers"]),
        .testTarget(name: "MechanicTests", dependencies: ["Mechanic", "FixtureSupport"]),
        // HTML checks and the headless-Chromium renderer shared by the report tests.
        .target(name: "ReportTestSupport", path: "Tests/ReportTestSupport"),
        // Fixture paths, the per-process model cache and the tolerance rule, shared by the test targets.
        .target(name: "FixtureSupport", dependencies: ["Mechanic"], path: "Tests/FixtureSupport"),
        .testTarget(name: "MechanicAnalysisTests", dependencies: ["MechanicAnalysis", "ReportTestSupport", "FixtureSupport"]),
        .testTarget(name: "MechanicBenchTests", dependencies: ["MechanicBench", "FixtureSupport"]),
        .testTarget(name: "MechanicDemoTests", dependencies: ["MechanicDemo", "ReportTestSupport", "FixtureSupport"]),
        // Runs the built `mechanic` executable as a user would (it must be built first: `swift test` builds it).
        .testTarget(name: "MechanicCLITests", dependencies: ["Mechanic", "MechanicAnalysis", "ReportTestSupport", "FixtureSupport", .target(name: "mechanic")]),
    ]
)
