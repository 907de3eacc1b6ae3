import Foundation
import Testing
import TestSupport
import VoxelCore
@testable import VoxelIO
import VoxelSupport

/// A real Siemens MOSAIC diffusion series (nibabel's TrioTim DWI files, b = 0 and b = 1000, plus the b = 1000
/// file repeated as a third volume) against dcm2niix's conversion of the same files, committed by
/// scripts/oracles/make_dwi_fixture.sh.
@Suite("Siemens MOSAIC diffusion series vs dcm2niix")
struct DICOMMosaicSeriesTests {
    static let fixture = TestPaths.repositoryRoot + "/Tests/Fixtures/dicom/siemens-dwi"
    static let oracle = fixture + "/dcm2niix/CBU_DTI_64D_1A_12"

    /// The fixture's files decompressed into a new folder (`count` of them: 2 = the two real files).
    static func series(_ count: Int = 3) throws -> String {
        let dir = TestPaths.temporaryDirectory()
        for name in ["dwi_0.dcm", "dwi_1000.dcm", "dwi_1000_repeat.dcm"].prefix(count) {
            let packed = try Data(contentsOf: URL(fileURLWithPath: fixture + "/" + name + ".gz"))
            let bytes = try packed.withUnsafeBytes { try Gzip.inflatePrefix($0, maxBytes: 8 << 20) }
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        return dir
    }

    static func oracleJSON() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: oracle + ".json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Numbers of a whitespace-separated text file, line by line.
    static func table(_ path: String) throws -> [[Double]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            line.split(separator: " ").compactMap { Double($0) }
        }
    }

    static func maxAbs(_ v: SIMD3<Double>) -> Double { max(abs(v.x), abs(v.y), abs(v.z)) }

    /// World direction of a voxel-frame vector under FSL's convention for an image with `affine`.
    static func world(_ v: SIMD3<Double>, affine rows: [[Double]]) -> SIMD3<Double> {
        let columns = (0..<3).map { c in SIMD3(rows[0][c], rows[1][c], rows[2][c]) }
        let unit = columns.map { $0 / ($0 * $0).sum().squareRoot() }
        let det = (unit[0].x * (unit[1].y * unit[2].z - unit[2].y * unit[1].z)
                 - unit[1].x * (unit[0].y * unit[2].z - unit[2].y * unit[0].z)
                 + unit[2].x * (unit[0].y * unit[1].z - unit[1].y * unit[0].z))
        let x = det > 0 ? -v.x : v.x
        return unit[0] * x + unit[1] * v.y + unit[2] * v.z
    }

    @Test("the MOSAIC files become one 4D volume in acquisition order, voxel for voxel dcm2niix's")
    func fourDimensionalVolume() throws {
        let dir = try Self.series()
        defer { TestPaths.removeTree(dir) }
        let stacks = try DICOMScanner.scan(dir).stacks
        try #require(stacks.count == 1, "\(stacks.map(\.label))")
        let stack = stacks[0]
        #expect(stack.volumeCount == 3)
        #expect(stack.slices.map { ($0.path as NSString).lastPathComponent } == ["dwi_0.dcm", "dwi_1000.dcm", "dwi_1000_repeat.dcm"])
        let volume = try stack.volume()
        #expect(volume.shape == [128, 128, 48, 3])
        #expect(volume.timeStep == 6.6)
        let reference = try NIfTI.read(Self.oracle + ".nii.gz").volume
        #expect(reference.shape == volume.shape)
        // Every voxel of ours, mapped through both affines, lands on a voxel of dcm2niix's with the same value.
        let ours = volume.geometry.affine, theirs = reference.geometry.affine
        let inverse = try #require(theirs.inverse)
        let s = volume.geometry.size
        var mismatches = 0, maxOffset = 0.0
        for k in 0..<s.z {
            for j in 0..<s.y {
                for i in 0..<s.x {
                    let w = ours.apply(SIMD3(Double(i), Double(j), Double(k)))
                    let p = inverse.apply(w)
                    let r = SIMD3(p.x.rounded(), p.y.rounded(), p.z.rounded())
                    maxOffset = max(maxOffset, Self.maxAbs(p - r))
                    guard let ri = Int(exactly: r.x), let rj = Int(exactly: r.y), let rk = Int(exactly: r.z),
                          (0..<s.x).contains(ri), (0..<s.y).contains(rj), (0..<s.z).contains(rk) else { mismatches += 1; continue }
                    for t in 0..<3 {
                        let a = volume.voxels.value(at: ((t * s.z + k) * s.y + j) * s.x + i)
                        let b = reference.voxels.value(at: ((t * s.z + rk) * s.y + rj) * s.x + ri)
                        if a != b { mismatches += 1 }
                    }
                }
            }
        }
        #expect(mismatches == 0)
        #expect(maxOffset < 1e-3, "voxel centres differ by \(maxOffset) voxels")
        // The volumes differ (b = 0 against b = 1000): the order matters and is checked above.
        let frame = s.x * s.y * s.z
        #expect((0..<frame).contains { volume.voxels.value(at: $0) != volume.voxels.value(at: frame + $0) })
    }

    @Test("b-values and gradient directions point the same way in the world as dcm2niix's")
    func diffusionTable() throws {
        let dir = try Self.series()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        let table = try #require(DiffusionTable(try stack.slices.map { try DICOMAcquisition.read($0.path) }, geometry: stack.geometry()))
        let bvals = try Self.table(Self.oracle + ".bval")
        #expect(bvals == [table.bValues])
        let bvecs = try Self.table(Self.oracle + ".bvec")
        let reference = try NIfTI.read(Self.oracle + ".nii.gz").volume.geometry.affine.rows
        let ours = stack.geometry().affine.rows
        for t in 0..<3 {
            let theirs = Self.world(SIMD3(bvecs[0][t], bvecs[1][t], bvecs[2][t]), affine: reference)
            let mine = Self.world(table.vectors[t], affine: ours)
            #expect(Self.maxAbs(theirs - mine) < 2e-5, "volume \(t): \(mine) vs dcm2niix \(theirs)")
        }
        #expect(table.vectors[1] != .zero)
        // The text files: one line of b-values, three lines of components.
        #expect(table.bvalText == "0 1000 1000\n")
        #expect(table.bvecText.split(separator: "\n").count == 3)
    }

    @Test("the sidecar's fields agree with dcm2niix's, in its names and units")
    func sidecar() throws {
        let dir = try Self.series()
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        let volume = try stack.volume()
        let acquisition = try DICOMAcquisition.read(stack.slices[0].path)
        let json = DICOMSidecar.json(stack: stack, volume: volume, acquisition: acquisition, software: ("voxelflow", "test"))
        let reference = try Self.oracleJSON()
        let same = ["Modality", "Manufacturer", "ManufacturersModelName", "PatientPosition", "ProcedureStepDescription",
                    "SoftwareVersions", "MRAcquisitionType", "SeriesDescription", "ProtocolName", "ScanningSequence",
                    "SequenceVariant", "ScanOptions", "SequenceName", "AcquisitionTime", "InPlanePhaseEncodingDirectionDICOM"]
        for key in same {
            #expect(json[key]?.stringValue == reference[key] as? String, "\(key): \(String(describing: json[key])) vs \(String(describing: reference[key]))")
        }
        let numbers = ["MagneticFieldStrength", "ImagingFrequency", "SeriesNumber", "AcquisitionNumber", "SliceThickness",
                       "SpacingBetweenSlices", "SAR", "EchoTime", "RepetitionTime", "FlipAngle", "PercentPhaseFOV",
                       "PercentSampling", "PhaseEncodingSteps", "AcquisitionMatrixPE", "ReconMatrixPE",
                       "BandwidthPerPixelPhaseEncode", "EffectiveEchoSpacing", "TotalReadoutTime", "PixelBandwidth"]
        for key in numbers {
            let expected = try #require((reference[key] as? NSNumber)?.doubleValue, "dcm2niix has no \(key)")
            let value = try #require(json[key]?.doubleValue, "no \(key) in the sidecar")
            #expect(abs(value - expected) <= 1e-5 * max(1, abs(expected)), "\(key): \(value) vs \(expected)")
        }
        guard case .array(let imageType)? = json["ImageType"] else { Issue.record("no ImageType"); return }
        #expect(imageType.compactMap(\.stringValue) == reference["ImageType"] as? [String])
        guard case .array(let timing)? = json["SliceTiming"] else { Issue.record("no SliceTiming"); return }
        let expectedTiming = try #require(reference["SliceTiming"] as? [NSNumber]).map(\.doubleValue)
        #expect(timing.count == expectedTiming.count)
        #expect(zip(timing.compactMap(\.doubleValue), expectedTiming).allSatisfy { abs($0 - $1) < 1e-6 })
        guard case .array(let orientation)? = json["ImageOrientationPatientDICOM"] else { Issue.record("no orientation"); return }
        let expectedOrientation = try #require(reference["ImageOrientationPatientDICOM"] as? [NSNumber]).map(\.doubleValue)
        #expect(zip(orientation.compactMap(\.doubleValue), expectedOrientation).allSatisfy { abs($0 - $1) < 1e-6 })
        // Phase encoding: dcm2niix's "j-" on its (row-flipped) grid is the same world direction as ours.
        let theirAxis = try #require(reference["PhaseEncodingDirection"] as? String)
        let ourAxis = try #require(json["PhaseEncodingDirection"]?.stringValue)
        func direction(_ code: String, _ rows: [[Double]]) -> SIMD3<Double> {
            let c = code.hasPrefix("i") ? 0 : code.hasPrefix("j") ? 1 : 2
            let v = SIMD3(rows[0][c], rows[1][c], rows[2][c])
            return (code.hasSuffix("-") ? -v : v) / (v * v).sum().squareRoot()
        }
        let theirRows = try NIfTI.read(Self.oracle + ".nii.gz").volume.geometry.affine.rows
        #expect(DICOMMosaicSeriesTests.maxAbs(direction(theirAxis, theirRows) - direction(ourAxis, volume.geometry.affine.rows)) < 1e-6,
                "\(ourAxis) vs dcm2niix \(theirAxis)")
        // Identifiers stay out unless asked.
        for key in DICOMSidecar.identifierKeywords { #expect(json[key] == nil, "\(key) written without being asked") }
        let withIdentifiers = DICOMSidecar.json(stack: stack, volume: volume, acquisition: acquisition, identifiers: true,
                                                software: ("voxelflow", "test"))
        #expect(withIdentifiers["StationName"]?.stringValue == reference["StationName"] as? String)
        #expect(withIdentifiers["DeviceSerialNumber"]?.stringValue == reference["DeviceSerialNumber"] as? String)
    }

    @Test("two MOSAIC files make a 2-volume series; a lone file stays 3D")
    func volumeCounts() throws {
        let dir = try Self.series(2)
        defer { TestPaths.removeTree(dir) }
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        #expect(try stack.volume().shape == [128, 128, 48, 2])
        #expect(stack.label.contains("2 volumes"))
        let one = try Self.series(1)
        defer { TestPaths.removeTree(one) }
        let single = try #require(try DICOMScanner.scan(one).stacks.first)
        #expect(try single.volume().shape == [128, 128, 48, 1])
        #expect(DiffusionTable([try DICOMAcquisition.read(single.slices[0].path)], geometry: single.geometry())?.bValues == [0])
    }

    @Test("the same MOSAIC instance twice is one volume, reported")
    func duplicateInstance() throws {
        let dir = try Self.series(2)
        defer { TestPaths.removeTree(dir) }
        try FileManager.default.copyItem(atPath: dir + "/dwi_1000.dcm", toPath: dir + "/copy_of_dwi_1000.dcm")
        let stack = try #require(try DICOMScanner.scan(dir).stacks.first)
        #expect(stack.volumeCount == 2)
        #expect(stack.problems.contains { $0.contains("same MOSAIC instance") })
    }
}

@Suite("Output names from dcm2niix-style templates")
struct DICOMNameTemplateTests {
    static let acquisition = DICOMAcquisition(values: ["ProtocolName": "t1/mprage sag", "SeriesNumber": "7",
                                                       "SeriesDescription": "T1 MPRAGE", "EchoNumbers": "2",
                                                       "Manufacturer": "SIEMENS", "StudyDate": "20240102",
                                                       "AcquisitionTime": "101112.5", "PatientID": "P1"], csa: [:])

    @Test("specifiers, padding and safe characters")
    func names() throws {
        let a = Self.acquisition
        #expect(try DICOMNameTemplate("%p_%s").name(acquisition: a, firstFile: "/in/dir/x.dcm") == "t1_mprage_sag_7")
        #expect(try DICOMNameTemplate("%4s_%e_%m").name(acquisition: a, firstFile: "/in/dir/x.dcm") == "0007_2_Siemens")
        #expect(try DICOMNameTemplate("%f_%b_%t").name(acquisition: a, firstFile: "/in/dir/x.dcm") == "dir_x.dcm_20240102101112")
        #expect(try DICOMNameTemplate("%i%%").name(acquisition: a, firstFile: "x") == "P1_")
        #expect(try DICOMNameTemplate("../%d").name(acquisition: a, firstFile: "x") == "_T1_MPRAGE")
    }

    @Test("an unknown specifier or an empty template is refused by name")
    func refused() {
        #expect(throws: DICOMNameTemplate.Error.self) { try DICOMNameTemplate("%q") }
        #expect(throws: DICOMNameTemplate.Error.self) { try DICOMNameTemplate("") }
        #expect(throws: DICOMNameTemplate.Error.self) { try DICOMNameTemplate("abc%") }
    }
}
