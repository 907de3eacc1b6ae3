// swift-tools-version: 6.0
// VoxelFlow: medical scan archives → segmentations and reports, in Swift.
import PackageDescription

/// DCMTK's libraries, linked by name: Debian 12's `dcmtk.pc` requires `sndfile`, so pkg-config cannot be used.
/// DCMTK's codecs (RLE is in dcmdata; JPEG in dcmjpeg + IJG; JPEG-LS in dcmjpls + CharLS) and OpenJPEG for
/// JPEG 2000, which DCMTK 3.6.7 cannot decode.
let dcmtkLibraries: [LinkerSetting] = [
    "dcmjpls", "dcmtkcharls", "dcmjpeg", "ijg8", "ijg12", "ijg16", "dcmimgle", "dcmdata", "oflog", "ofstd", "openjp2",
].map { .linkedLibrary($0) }

let package = Package(
    name: "VoxelFlow",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "VoxelCore", targets: ["VoxelCore"]),
        .library(name: "VoxelIO", targets: ["VoxelIO"]),
        .library(name: "VoxelNN", targets: ["VoxelNN"]),
        .library(name: "VoxelTransforms", targets: ["VoxelTransforms"]),
        .library(name: "VoxelPipeline", targets: ["VoxelPipeline"]),
        .executable(name: "voxelflow", targets: ["voxelflow"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: C bridges (the only places C and C++ live)
        .target(
            name: "CNIfTI",
            linkerSettings: [.linkedLibrary("nifti2"), .linkedLibrary("znz"), .linkedLibrary("z"), .linkedLibrary("m")]
        ),
        .target(
            name: "CDCMTK",
            linkerSettings: dcmtkLibraries
        ),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev", "zlib1g-dev"])]),

        // MARK: Swift modules
        .target(name: "VoxelCore"),
        .target(name: "VoxelIO", dependencies: ["VoxelCore", "CNIfTI", "CDCMTK", "CDeflate"]),
        .target(name: "VoxelNN", dependencies: ["VoxelCore", "CBLAS"]),
        .target(name: "VoxelTransforms", dependencies: ["VoxelCore"]),
        .target(name: "VoxelPipeline", dependencies: ["VoxelCore", "VoxelIO", "VoxelTransforms", "VoxelNN"]),

        // MARK: Analysis plugins (built only on the public API)
        .target(name: "LabelStatisticsPlugin", dependencies: ["VoxelPipeline", "VoxelCore", "VoxelTransforms"], path: "Plugins/LabelStatistics"),
        .target(name: "ExternalCommandPlugin", dependencies: ["VoxelPipeline", "VoxelCore", "VoxelIO"], path: "Plugins/ExternalCommand"),

        .executableTarget(
            name: "voxelflow",
            dependencies: [
                "VoxelCore", "VoxelIO", "VoxelPipeline", "LabelStatisticsPlugin", "ExternalCommandPlugin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Benchmarks (side by side with peer tools; never part of `swift test`)
        .executableTarget(
            name: "voxelflow-bench",
            dependencies: ["VoxelCore", "VoxelIO", "VoxelTransforms", "VoxelNN"],
            path: "Benchmarks/Sources/voxelflow-bench"
        ),

        // MARK: Tests
        .target(name: "TestSupport", dependencies: ["VoxelCore", "VoxelIO"], path: "Tests/TestSupport"),
        .testTarget(name: "VoxelCoreTests", dependencies: ["VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelIOTests", dependencies: ["VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelNNTests", dependencies: ["VoxelNN", "VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelTransformsTests", dependencies: ["VoxelTransforms", "VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(name: "voxelflowTests", dependencies: ["VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(
            name: "VoxelPipelineTests",
            dependencies: ["VoxelPipeline", "LabelStatisticsPlugin", "ExternalCommandPlugin", "VoxelIO", "VoxelCore", "VoxelNN", "TestSupport"]
        ),
    ]
)
