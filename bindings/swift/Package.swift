// swift-tools-version:5.9
// The edgepoints SDK as a Swift package: the generated Swift bindings over
// the Rust static library packaged as an XCFramework.
// `build-xcframework.sh` (macOS) fills Sources/EdgePointsSDK and builds
// EdgePointsSDKFFI.xcframework before this package can build.
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
            path: "Sources/EdgePointsSDK"
        ),
    ]
)
