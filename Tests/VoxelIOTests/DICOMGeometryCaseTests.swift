import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO
import VoxelSupport

/// Oblique and gantry-tilted series built from the real sample series by pydicom, with the expected
/// geometry computed in numpy (scripts/oracles/make_geometry_cases.py), independently of VoxelFlow.
@Suite("DICOM oblique and tilted series",
       .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct DICOMGeometryCaseTests {
    static let source = TestPaths.sampleData + "/dicom/ct_head_implicit"

    /// Runs the case generator; returns its JSON output.
    static func make(_ kind: String, in dir: String) throws -> [String: Any] {
        let python = try #require(TestPaths.oraclePython)
        let r = Subprocess.run([python, TestPaths.repositoryRoot + "/scripts/oracles/make_geometry_cases.py", source, dir, kind])
        try #require(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    @Test("an oblique series gets the rotated affine and the original voxels")
    func oblique() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let expected = try #require(try Self.make("oblique", in: dir)["affine"] as? [[Double]])
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        #expect(stack.isRegular, "\(stack.problems)")
        let volume = try stack.volume()
        #expect(volume.geometry.affine.maxAbsDifference(toRows: expected) < 1e-3, "\(volume.geometry.affine.rows) vs \(expected)")
        #expect(volume.geometry.isOblique())
        let original = try #require(try DICOMScanner.scan(Self.source).stacks.first).volume()
        #expect(volume.voxels == original.voxels, "rotation must not reorder voxels")
    }

    @Test("a gantry-tilted series is resliced onto the orthogonal grid numpy computes from the positions; the refusal stays available")
    func tilted() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        let expected = try Self.make("tilt", in: dir)
        let truth = try Data(contentsOf: URL(fileURLWithPath: dir + "/expected_tilt.f32"))
        try FileManager.default.removeItem(atPath: dir + "/expected_tilt.f32")
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        #expect(!stack.isRegular && stack.isTilted)
        let problem = try #require(stack.problems.first { $0.contains("sheared") })
        #expect(problem.contains("15°") && problem.contains("gantry tilt"), "\(problem)")

        let volume = try stack.volume()
        let size = try #require(expected["size"] as? [Int])
        #expect([volume.geometry.size.x, volume.geometry.size.y, volume.geometry.size.z] == size)
        let affine = try #require(expected["affine"] as? [[Double]])
        #expect(volume.geometry.affine.maxAbsDifference(toRows: affine) < 1e-4, "\(volume.geometry.affine.rows) vs \(affine)")
        #expect(volume.voxelType == .int16)
        let values = truth.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        try #require(values.count == volume.voxels.count)
        var worst = 0.0
        for (n, v) in values.enumerated() { worst = max(worst, abs(volume.voxels.value(at: n) - Double(v))) }
        // int16 output: the interpolated HU rounded.
        #expect(worst <= 0.5 + 1e-3, "largest difference \(worst) HU")
        #expect(volume.metadata.description?.contains("gantry tilt of 15° corrected") == true)

        var refuse = DICOMVolumeOptions()
        refuse.correctGantryTilt = false
        let error = #expect(throws: DICOMSeriesError.self) { try stack.volume(options: refuse) }
        #expect(error?.reason.contains("sheared") == true)
    }
}

/// PET series built by pydicom from the sample slices; SUV expected values computed in numpy.
@Suite("PET SUV conversion", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct PETSUVTests {
    @Test("body-weight SUV with decay correction to the series time matches the independent computation")
    func suvMatches() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        _ = try DICOMGeometryCaseTests.make("pet", in: dir)
        let expectedData = try Data(contentsOf: URL(fileURLWithPath: dir + "/expected_suv.f32"))
        try FileManager.default.removeItem(atPath: dir + "/expected_suv.f32")
        let expected = expectedData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        var options = DICOMVolumeOptions()
        options.suvBodyWeight = true
        let volume = try stack.volume(options: options)
        #expect(volume.metadata.intensityUnit == "SUVbw")
        guard case .float32(let ours) = volume.voxels else { Issue.record("SUV must be float32"); return }
        #expect(ours.count == expected.count)
        var worst: Float = 0
        for (a, b) in zip(ours, expected) { worst = max(worst, abs(a - b) / max(1, abs(b))) }
        #expect(worst < 1e-5, "largest relative SUV difference \(worst)")
        // Without --suv the same series keeps Bq/mL (per-slice slopes: float32 physical values).
        let plain = try stack.volume()
        #expect(plain.metadata.intensityUnit == "Bq/mL")
    }

    @Test("a PET series without PatientWeight is refused naming the attribute")
    func missingWeight() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        _ = try DICOMGeometryCaseTests.make("pet-noweight", in: dir)
        try? FileManager.default.removeItem(atPath: dir + "/expected_suv.f32")
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        var options = DICOMVolumeOptions()
        options.suvBodyWeight = true
        let error = #expect(throws: DICOMSeriesError.self) { try stack.volume(options: options) }
        #expect(error?.reason.contains("PatientWeight") == true)
    }

    @Test("SUV of a CT series is refused")
    func notPET() throws {
        let stack = try #require(try DICOMScanner.scan(TestPaths.sampleData + "/dicom/ct_head_implicit").stacks.first)
        var options = DICOMVolumeOptions()
        options.suvBodyWeight = true
        #expect(throws: DICOMSeriesError.self) { try stack.volume(options: options) }
    }
}

/// A Siemens MOSAIC built by pydicom from the 16 real sample slices must de-tile to those slices.
@Suite("Siemens MOSAIC", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct MosaicTests {
    @Test("a 4x4 mosaic de-tiles to the original slices, voxels and affine")
    func mosaicRoundTrip() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        _ = try DICOMGeometryCaseTests.make("mosaic", in: dir)
        let header = try DICOMHeader.read(dir + "/mosaic.dcm")
        #expect(header.isMosaic && header.mosaicImages == 16)
        #expect(header.rows == 1024 && header.columns == 1024)
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        let volume = try stack.volume()
        let original = try #require(try DICOMScanner.scan(DICOMGeometryCaseTests.source).stacks.first).volume()
        #expect(volume.geometry.size == original.geometry.size)
        #expect(volume.geometry.affine.maxAbsDifference(to: original.geometry.affine) < 1e-3,
                "\(volume.geometry.affine.rows) vs \(original.geometry.affine.rows)")
        #expect(volume.voxels == original.voxels)
    }
}

/// Repeated acquisitions of one series become separate stacks.
@Suite("DICOM repeated acquisitions", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct RepeatedAcquisitionTests {
    @Test("a CT acquired twice over the same positions gives two 3D stacks, not duplicates (dcm2niix would stack them in 4D)")
    func splitsByAcquisition() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        _ = try DICOMGeometryCaseTests.make("repeat", in: dir)
        let scan = try DICOMScanner.scan(dir)
        #expect(scan.stacks.count == 2)
        #expect(scan.stacks.allSatisfy { $0.slices.count == 16 && $0.problems.isEmpty && $0.isRegular })
        #expect(Set(scan.stacks.map { $0.header.acquisitionNumber ?? 0 }) == [1, 2])
    }
}

/// Single-frame series acquired three times over the same positions (built by pydicom from the sample
/// slices, volume v = slices + 100 × v): diffusion weightings or temporal positions make one 4D stack,
/// compared with the construction and, where installed, with dcm2niix.
@Suite("DICOM classic 4D series", .enabled(if: TestPaths.oraclePython != nil, Comment(rawValue: TestPaths.oracleMissing)))
struct ClassicFourDimensionalTests {
    static func build(_ kind: String) throws -> (dir: String, stack: DICOMStack, volume: Volume) {
        let dir = TestPaths.temporaryDirectory()
        _ = try DICOMGeometryCaseTests.make(kind, in: dir)
        let scan = try DICOMScanner.scan(dir)
        try #require(scan.stacks.count == 1, "\(scan.stacks.map(\.label))")
        let stack = scan.stacks[0]
        return (dir, stack, try stack.volume())
    }

    /// Volume t holds the sample series plus 100 × t, voxel for voxel.
    static func checkVolumes(_ volume: Volume) throws {
        let original = try #require(try DICOMScanner.scan(DICOMGeometryCaseTests.source).stacks.first).volume()
        #expect(volume.shape == [256, 256, 16, 3])
        #expect(volume.geometry == original.geometry)
        let n = original.voxels.count
        var wrong = 0
        for t in 0..<3 {
            for i in stride(from: 0, to: n, by: 7) where volume.scaling.apply(volume.voxels.value(at: t * n + i)) != original.scaling.apply(original.voxels.value(at: i)) + Double(100 * t) {
                wrong += 1
            }
        }
        #expect(wrong == 0)
    }

    @Test("a DWI series with one AcquisitionNumber: three volumes in order, b-values and directions as dcm2niix gives them")
    func diffusion() throws {
        let (dir, stack, volume) = try Self.build("dwi")
        defer { TestPaths.removeTree(dir) }
        #expect(stack.volumeCount == 3 && stack.problems.isEmpty, "\(stack.problems)")
        #expect(stack.label.contains("3 volumes"))
        try Self.checkVolumes(volume)
        let table = try #require(DiffusionTable(try stack.volumeFiles.map { try DICOMAcquisition.read($0) }, geometry: volume.geometry))
        #expect(table.bValues == [0, 1000, 1000])
        // Voxel axes along +x, +y, +z (LPS) with a positive determinant: FSL's convention negates x.
        #expect(table.vectors == [SIMD3(0, 0, 0), SIMD3(-1, 0, 0), SIMD3(0, 0.6, 0.8)])
        guard let dcm2niix = ["/usr/bin/dcm2niix", "/usr/local/bin/dcm2niix"].first(where: TestPaths.exists) else { return }
        let out = dir + "/dcm2niix"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let r = Subprocess.run([dcm2niix, "-z", "y", "-f", "x", "-o", out, dir])
        try #require(r.status == 0, "\(r.stderr)")
        let reference = try NIfTI.read(out + "/x.nii.gz").volume
        #expect(reference.shape == volume.shape)
        let bvecs = try DICOMMosaicSeriesTests.table(out + "/x.bvec")
        #expect(try DICOMMosaicSeriesTests.table(out + "/x.bval") == [table.bValues])
        for t in 0..<3 {
            let theirs = DICOMMosaicSeriesTests.world(SIMD3(bvecs[0][t], bvecs[1][t], bvecs[2][t]), affine: reference.geometry.affine.rows)
            let ours = DICOMMosaicSeriesTests.world(table.vectors[t], affine: volume.geometry.affine.rows)
            #expect(DICOMMosaicSeriesTests.maxAbs(theirs - ours) < 1e-5, "volume \(t): \(ours) vs dcm2niix \(theirs)")
        }
    }

    /// Runs dcm2niix (when installed) on `dir`; returns its 4D volume and, for diffusion, its b-values.
    static func dcm2niix(_ dir: String) throws -> (volume: Volume, bValues: [[Double]]?)? {
        guard let tool = ["/usr/bin/dcm2niix", "/usr/local/bin/dcm2niix"].first(where: TestPaths.exists) else { return nil }
        let out = dir + "/dcm2niix"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let r = Subprocess.run([tool, "-z", "y", "-f", "x", "-o", out, dir])
        try #require(r.status == 0, "\(r.stderr)")
        let bval = out + "/x.bval"
        return (try NIfTI.read(out + "/x.nii.gz").volume, TestPaths.exists(bval) ? try DICOMMosaicSeriesTests.table(bval) : nil)
    }

    /// Every voxel of `ours` equals dcm2niix's, whose rows are flipped (it writes y downwards).
    static func sameVoxels(_ ours: Volume, _ theirs: Volume) -> Int {
        let (nx, ny, nz) = (ours.geometry.size.x, ours.geometry.size.y, ours.geometry.size.z * (ours.shape.count > 3 ? ours.shape[3] : 1))
        let flipped = theirs.geometry.affine.rows[1][1] * ours.geometry.affine.rows[1][1] < 0
        var wrong = 0
        for z in 0..<nz {
            for y in stride(from: 0, to: ny, by: 3) {
                for x in stride(from: 0, to: nx, by: 3) {
                    let a = ours.scaling.apply(ours.voxels.value(at: (z * ny + y) * nx + x))
                    let b = theirs.scaling.apply(theirs.voxels.value(at: (z * ny + (flipped ? ny - 1 - y : y)) * nx + x))
                    if abs(a - b) > 1e-3 { wrong += 1 }
                }
            }
        }
        return wrong
    }

    @Test("a classic fMRI run told apart only by AcquisitionNumber: one 4D series in acquisition order, as dcm2niix makes it")
    func acquisitionSeries() throws {
        let (dir, stack, volume) = try Self.build("fmri-acquisition")
        defer { TestPaths.removeTree(dir) }
        #expect(stack.volumeCount == 3 && stack.files.count == 48 && stack.problems.isEmpty, "\(stack.problems)")
        try Self.checkVolumes(volume)
        #expect(volume.timeStep == 2)
        if let reference = try Self.dcm2niix(dir) {
            #expect(reference.volume.shape == volume.shape)
            #expect(Self.sameVoxels(volume, reference.volume) == 0)
        }
    }

    @Test("repeated b = 0 volumes under one AcquisitionNumber are volumes, not duplicates: b-values 0, 0, 1000 as dcm2niix")
    func repeatedBZero() throws {
        let (dir, stack, volume) = try Self.build("dwi-b0")
        defer { TestPaths.removeTree(dir) }
        #expect(stack.volumeCount == 3 && stack.problems.isEmpty && stack.droppedDuplicates.isEmpty, "\(stack.problems)")
        try Self.checkVolumes(volume)
        let table = try #require(DiffusionTable(try stack.volumeFiles.map { try DICOMAcquisition.read($0) }, geometry: volume.geometry))
        #expect(table.bValues == [0, 0, 1000])
        if let reference = try Self.dcm2niix(dir) {
            #expect(reference.bValues == [table.bValues])
            #expect(Self.sameVoxels(volume, reference.volume) == 0)
        }
    }

    @Test("an enhanced multi-frame DWI (per-frame MR Diffusion sequences) gives the volume and table of the same DWI as single-frame files")
    func enhancedDiffusion() throws {
        let (dir, stack, volume) = try Self.build("enhanced-dwi")
        defer { TestPaths.removeTree(dir) }
        #expect(stack.volumeCount == 3 && stack.files.count == 1 && stack.volumesShareFiles && stack.problems.isEmpty, "\(stack.problems)")
        try Self.checkVolumes(volume)
        let table = try #require(DiffusionTable(weights: stack.volumeWeightings, geometry: volume.geometry))
        // The single-frame DWI series, whose table and voxels agree with dcm2niix (the test above).
        let (classicDir, classicStack, classic) = try Self.build("dwi")
        defer { TestPaths.removeTree(classicDir) }
        let classicTable = try #require(DiffusionTable(try classicStack.volumeFiles.map { try DICOMAcquisition.read($0) }, geometry: classic.geometry))
        #expect(table == classicTable && table.bValues == [0, 1000, 1000])
        #expect(volume.geometry == classic.geometry && volume.voxels == classic.voxels)

        // A cached re-scan keeps the per-frame weightings.
        let cachePath = dir + "/scan.cache"
        var cache = DICOMScanCache()
        _ = try DICOMScanner.scan(dir, cache: &cache)
        try cache.save(cachePath)
        var reloaded = try DICOMScanCache.load(cachePath)
        let again = try #require(try DICOMScanner.scan(dir, cache: &reloaded).stacks.first)
        #expect(again.volumeCount == 3)
        #expect(DiffusionTable(weights: again.volumeWeightings, geometry: volume.geometry) == table)
    }

    @Test("an enhanced multi-frame fMRI (per-frame TemporalPositionIndex) gives three volumes in temporal order")
    func enhancedTemporal() throws {
        let (dir, stack, volume) = try Self.build("enhanced-fmri")
        defer { TestPaths.removeTree(dir) }
        #expect(stack.volumeCount == 3 && stack.problems.isEmpty, "\(stack.problems)")
        try Self.checkVolumes(volume)
        #expect(DiffusionTable(weights: stack.volumeWeightings, geometry: volume.geometry) == nil)
        #expect(volume.timeStep == 2)
    }

    @Test("an fMRI series with TemporalPositionIdentifier: three volumes, the repetition time as time step")
    func temporal() throws {
        let (dir, stack, volume) = try Self.build("fmri")
        defer { TestPaths.removeTree(dir) }
        #expect(stack.volumeCount == 3 && stack.files.count == 48)
        try Self.checkVolumes(volume)
        #expect(volume.timeStep == 2)
        // One file of the last volume names the whole 4D series.
        let chosen = try DICOMSeriesChoice.load(dir + "/V2_005.dcm", selector: nil)
        #expect(chosen.volumeCount == 3 && chosen.files.count == 48)
    }
}

/// Copies of one MR image (the shared corpus's MR2 conformance files: one image in four transfer syntaxes,
/// with distinct InstanceNumbers but no diffusion weighting) are duplicates, never volumes.
@Suite("DICOM copies of one MR image", .enabled(if: TestPaths.sharedDataAvailable, Comment(rawValue: TestPaths.sharedDataMissing)))
struct RepeatedImageCopiesTests {
    @Test("the same MR slice in four transfer syntaxes stays one slice, the copies reported")
    func copiesStayDuplicates() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTree(dir) }
        for name in ["MR2_UNCR", "MR2_UNCI", "MR2_J2KR", "MR2_J2KI"] {
            try FileManager.default.copyItem(atPath: TestPaths.sharedData + "/dicom/conformance/\(name).dcm", toPath: dir + "/\(name).dcm")
        }
        let stacks = try DICOMScanner.scan(dir).stacks
        try #require(stacks.count == 1)
        #expect(stacks[0].volumeCount == 1 && stacks[0].slices.count == 1)
        #expect(stacks[0].problems.contains { $0.contains("duplicate slice") }, "\(stacks[0].problems)")
    }
}
