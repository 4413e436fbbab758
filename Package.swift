// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "cpucompat",
    products: [
        .library(name: "CPUCompat", targets: ["CPUCompat"]),
        .executable(name: "cpucompat", targets: ["cpucompat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        .systemLibrary(name: "CExtendedAttributes"),
        .target(
            name: "CPUCompat",
            dependencies: ["CLibXML2", "CExtendedAttributes"]
        ),
        .executableTarget(
            name: "cpucompat",
            dependencies: ["CPUCompat"]
        ),
        .testTarget(
            name: "CPUCompatTests",
            dependencies: ["CPUCompat"]
        ),
        .testTarget(
            name: "cpucompatTests",
            dependencies: ["cpucompat"],
            exclude: ["Golden"]
        ),
    ]
)
