// swift-tools-version:5.9
// The edgepoints SDK as a Swift package: the generated Swift bindings and a
// hand-written companion (SdkEvents.swift) over the Rust static library,
// packaged as an XCFramework with iOS device, iOS simulator and macOS slices.
// `build-xcframework.sh` (macOS) writes the generated Swift and builds
// EdgePointsSDKFFI.xcframework before this package can build; `test.sh`
// runs the tests against a mock control plane.
import PackageDescription

let package = Package(
    name: "EdgePointsSDK",
    platforms: [.iOS(.v13), .macOS(.v12)],
    products: [
        .library(name: "EdgePointsSDK", targets: ["EdgePointsSDK"]),
    ],
    targets: [
        .binaryTarget(name: "EdgePointsSDKFFI", path: "EdgePointsSDKFFI.xcframework"),
        .target(
            name: "EdgePointsSDK",
            dependencies: ["EdgePointsSDKFFI"],
            path: "Sources/EdgePointsSDK",
            exclude: ["README.md"]
        ),
        .testTarget(
            name: "EdgePointsSDKTests",
            dependencies: ["EdgePointsSDK"],
            path: "Tests/EdgePointsSDKTests"
        ),
    ]
)
