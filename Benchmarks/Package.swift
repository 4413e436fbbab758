// swift-tools-version:6.1
// Benchmarks live in their own package so that the main package does not
// depend on the benchmark harness. Run: `swift package benchmark` in this folder.
import PackageDescription

let package = Package(
    name: "cpucompat-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "cpucompat", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CPUCompatBenchmarks",
            dependencies: [
                .product(name: "CPUCompat", package: "cpucompat"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CPUCompatBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
