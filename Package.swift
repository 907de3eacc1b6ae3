// swift-tools-version: 6.0
// VoxelFlow: medical scan archives → segmentations and reports, in Swift.
import PackageDescription

/// DCMTK's libraries, linked by name: Debian 12's `dcmtk.pc` requires `sndfile`, so pkg-config cannot be used.
/// DCMTK's codecs (RLE is in dcmdata; JPEG in dcmjpeg + IJG; JPEG-LS in dcmjpls + CharLS) and OpenJPEG for
/// JPEG 2000, which DCMTK 3.6.7 cannot decode.
let dcmtkLibraries: [LinkerSetting] = [
    "cmr", "dcmsr", "dcmjpls", "dcmtkcharls", "dcmjpeg", "ijg8", "ijg12", "ijg16", "dcmimgle", "dcmdata", "oflog", "ofstd", "openjp2",
].map { .linkedLibrary($0) }

let package = Package(
    name: "VoxelFlow",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "VoxelSupport", targets: ["VoxelSupport"]),
        .library(name: "VoxelCore", targets: ["VoxelCore"]),
        .library(name: "VoxelIO", targets: ["VoxelIO"]),
        .library(name: "VoxelNN", targets: ["VoxelNN"]),
        .library(name: "VoxelTransforms", targets: ["VoxelTransforms"]),
        .library(name: "VoxelMetrics", targets: ["VoxelMetrics"]),
        .library(name: "VoxelPipeline", targets: ["VoxelPipeline"]),
        .library(name: "VoxelCatalog", targets: ["VoxelCatalog"]),
        .library(name: "VoxelNet", targets: ["VoxelNet"]),
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
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        // DCMTK's network module (a storage SCP), apart from CDCMTK so that only VoxelNet links it.
        .target(
            name: "CDCMTKNet",
            linkerSettings: ["dcmnet", "dcmdata", "oflog", "ofstd"].map { .linkedLibrary($0) }
        ),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev", "zlib1g-dev"])]),

        // MARK: Swift modules
        // JSON, hashing, seeded random numbers, checked conversions and the platform helpers (core count,
        // compute budget, parallel loops, memory advice): shared by every module, apart from the volume model.
        .target(name: "VoxelSupport"),
        .target(name: "VoxelCore"),
        .target(name: "VoxelIO", dependencies: ["VoxelSupport", "VoxelCore", "CNIfTI", "CDCMTK", "CDeflate"]),
        .target(name: "VoxelNN", dependencies: ["VoxelSupport", "VoxelCore", "CBLAS"]),
        .target(name: "VoxelTransforms", dependencies: ["VoxelSupport", "VoxelCore"]),
        // Segmentation and classification metrics (overlap, surface distances, ROC): pure computation on volumes.
        .target(name: "VoxelMetrics", dependencies: ["VoxelSupport", "VoxelCore"]),
        // Networking (DICOMweb over libcurl) in its own module, so that nothing else links it by accident.
        .target(name: "VoxelNet", dependencies: ["VoxelSupport", "VoxelIO", "CCurl", "CDCMTKNet"]),
        .target(name: "VoxelPipeline", dependencies: ["VoxelSupport", "VoxelCore", "VoxelIO", "VoxelTransforms", "VoxelNN", "VoxelMetrics"]),

        // MARK: Analysis plugins (built only on the public API)
        .target(name: "LabelStatisticsPlugin", dependencies: ["VoxelPipeline", "VoxelSupport", "VoxelCore", "VoxelIO", "VoxelTransforms"], path: "Plugins/LabelStatistics"),
        .target(name: "ExternalCommandPlugin", dependencies: ["VoxelPipeline", "VoxelSupport", "VoxelCore", "VoxelIO"], path: "Plugins/ExternalCommand"),
        .target(name: "PACSPlugin", dependencies: ["VoxelPipeline", "VoxelSupport", "VoxelNet"], path: "Plugins/PACS"),

        // The stage types the tool offers (built-in + plugins), shared by the command line and the tests.
        .target(name: "VoxelCatalog", dependencies: ["VoxelPipeline", "LabelStatisticsPlugin", "ExternalCommandPlugin", "PACSPlugin"]),

        .executableTarget(
            name: "voxelflow",
            dependencies: [
                "VoxelSupport", "VoxelCore", "VoxelIO", "VoxelTransforms", "VoxelNN", "VoxelMetrics", "VoxelPipeline", "VoxelCatalog", "VoxelNet", "PACSPlugin",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Benchmarks (side by side with peer tools; never part of `swift test`)
        .executableTarget(
            name: "voxelflow-bench",
            dependencies: ["VoxelSupport", "VoxelCore", "VoxelIO", "VoxelTransforms", "VoxelNN", "VoxelMetrics"],
            path: "Benchmarks/Sources/voxelflow-bench"
        ),

        // MARK: Fuzzing (scripts/fuzz.sh builds it with libFuzzer; a plain build replays inputs)
        .executableTarget(
            name: "voxelflow-fuzz",
            dependencies: ["VoxelSupport", "VoxelCore", "VoxelIO", "VoxelNN", "VoxelPipeline", "VoxelCatalog"],
            path: "Tests/Fuzz"
        ),

        // MARK: Tests
        .target(name: "TestSupport", dependencies: ["VoxelSupport", "VoxelCore", "VoxelIO"], path: "Tests/TestSupport"),
        .testTarget(name: "VoxelCoreTests", dependencies: ["VoxelSupport", "VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelIOTests", dependencies: ["VoxelSupport", "VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelNNTests", dependencies: ["VoxelSupport", "VoxelNN", "VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelMetricsTests", dependencies: ["VoxelSupport", "VoxelMetrics", "VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelTransformsTests", dependencies: ["VoxelSupport", "VoxelTransforms", "VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(name: "voxelflowTests", dependencies: ["VoxelSupport", "VoxelIO", "VoxelCore", "TestSupport"]),
        .testTarget(name: "VoxelNetTests", dependencies: ["VoxelSupport", "VoxelNet", "VoxelIO", "VoxelCore", "VoxelPipeline", "VoxelCatalog", "PACSPlugin", "TestSupport"]),
        .testTarget(
            name: "VoxelPipelineTests",
            dependencies: ["VoxelSupport", "VoxelPipeline", "VoxelCatalog", "VoxelIO", "VoxelCore", "VoxelNN", "VoxelMetrics", "VoxelTransforms", "TestSupport"]
        ),
    ]
)
