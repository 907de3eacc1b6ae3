import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO

/// Writing then reading gives back the same voxels, scaling and world geometry, in every layout.
@Suite("NIfTI write/read round trips")
struct NIfTIRoundTripTests {
    struct Layout: CustomTestStringConvertible, Sendable {
        var fileName: String
        var options: NIfTIWriteOptions
        var testDescription: String { fileName }
    }

    static let layouts: [Layout] = [
        Layout(fileName: "out.nii", options: NIfTIWriteOptions()),
        Layout(fileName: "out.nii.gz", options: NIfTIWriteOptions()),
        Layout(fileName: "out.hdr", options: NIfTIWriteOptions()),
        Layout(fileName: "out-n2.nii.gz", options: NIfTIWriteOptions(version: 2)),
        Layout(fileName: "out-be.nii", options: NIfTIWriteOptions(bigEndian: true)),
        Layout(fileName: "out-be-n2.nii.gz", options: NIfTIWriteOptions(version: 2, bigEndian: true)),
        Layout(fileName: "out-level1.nii.gz", options: NIfTIWriteOptions(compressionLevel: 1, threads: 1)),
    ]

    static let sources = [
        "nifti/format/colin3mm_scl_slope0.5_inter-10.nii.gz",   // scaled int16
        "nifti/format/colin3mm_n2_float32_oblique.nii",          // float32, oblique, NIfTI-2
        "nifti/format/nibabel_example4d.nii.gz",                 // 4D, oblique
        "nifti/format/nibabel_reoriented_anat_moved.nii",        // big-endian float32
        "nifti/ct_head_mask_bone.nii.gz",                        // uint8 label mask
    ]

    @Test("every layout round-trips voxels, scaling and affine", arguments: layouts, sources)
    func roundTrip(_ layout: Layout, _ source: String) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let original = try NIfTI.read(TestPaths.sampleData + "/" + source)
        let path = dir + "/" + layout.fileName
        try NIfTI.write(original.volume, to: path, options: layout.options)
        let back = try NIfTI.read(path)
        #expect(back.volume.voxels == original.volume.voxels)
        #expect(back.volume.scaling == original.volume.scaling)
        #expect(back.volume.shape == original.volume.shape)
        // NIfTI-1 stores the sform as float32: allow its rounding, nothing more.
        #expect(back.volume.geometry.affine.maxAbsDifference(to: original.volume.geometry.affine) < 1e-4)
        #expect(back.header.isBigEndian == layout.options.bigEndian)
        #expect(back.header.version == (layout.options.version ?? 1))
        #expect(back.warnings.isEmpty, "qform derived from the sform must agree with it: \(back.warnings)")
        if layout.fileName.hasSuffix(".hdr") {
            #expect(TestPaths.exists(dir + "/out.img"))
        }
    }

    @Test("writing leaves no temporary files behind")
    func noTemporaryFiles() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let image = try NIfTI.read(TestPaths.sampleData + "/nifti/format/nibabel_standard.nii.gz")
        try NIfTI.write(image.volume, to: dir + "/a.nii.gz")
        try NIfTI.write(image.volume, to: dir + "/a.nii.gz")  // overwrite in place
        let listing = Subprocess.run(["/bin/ls", "-A", dir]).stdout.split(separator: "\n")
        #expect(listing == ["a.nii.gz"])
    }

    @Test("NIfTI-1 refuses dimensions over 32767 and NIfTI-2 takes them")
    func largeDimensionsNeedNIfTI2() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let geometry = Geometry(size: SIMD3(40000, 1, 1), spacing: SIMD3(1, 1, 1))
        let volume = try Volume(geometry: geometry, voxels: VoxelArray(zeros: .uint8, count: 40000))
        #expect(throws: NIfTIError.self) { try NIfTI.write(volume, to: dir + "/a.nii", options: NIfTIWriteOptions(version: 1)) }
        #expect(!TestPaths.exists(dir + "/a.nii"))
        try NIfTI.write(volume, to: dir + "/b.nii")
        let back = try NIfTI.read(dir + "/b.nii")
        #expect(back.header.version == 2)
        #expect(back.volume.geometry.size == SIMD3(40000, 1, 1))
    }

    @Test("every voxel type survives a round trip", arguments: VoxelType.allCases)
    func voxelTypes(_ type: VoxelType) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let count = 5 * 4 * 3
        let bytes = (0..<(count * type.byteSize)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var voxels = bytes.withUnsafeBytes { VoxelArray(type: type, count: count, bytes: $0, byteSwapped: false) }
        if case .float32(let a) = voxels { voxels = .float32(a.map { $0.isNaN ? 0 : $0 }) }
        if case .float64(let a) = voxels { voxels = .float64(a.map { $0.isNaN ? 0 : $0 }) }
        let geometry = Geometry(size: SIMD3(5, 4, 3), spacing: SIMD3(0.5, 0.75, 2), origin: SIMD3(-10, 20, 30))
        let volume = try Volume(geometry: geometry, voxels: voxels)
        for name in ["t.nii", "t.nii.gz", "t-be.nii"] {
            try NIfTI.write(volume, to: dir + "/" + name, options: NIfTIWriteOptions(bigEndian: name.contains("-be")))
            let back = try NIfTI.read(dir + "/" + name)
            #expect(back.volume.voxels == volume.voxels, "\(type) via \(name)")
            #expect(back.volume.geometry.affine.maxAbsDifference(to: volume.geometry.affine) < 1e-6)
        }
    }
}
