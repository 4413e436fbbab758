// swift-tools-version:6.1
// The fuzz target lives in its own package so that the main package's
// `swift build` never tries to link an executable without a `main` (libFuzzer
// provides it). See README.md beside this file.
import PackageDescription

let package = Package(
    name: "cpucompat-fuzz",
    dependencies: [.package(name: "cpucompat", path: "..")],
    targets: [
        .executableTarget(
            name: "cpucompat-fuzz",
            dependencies: [.product(name: "CPUCompat", package: "cpucompat")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
