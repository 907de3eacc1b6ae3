import Testing
import VoxelCore

@Suite("Volume, VoxelArray and LabelMap")
struct VolumeTests {
    let geometry = Geometry(size: SIMD3(3, 2, 2), spacing: SIMD3(1, 1, 1))

    @Test("bytes decode in host order and byte-swapped", arguments: VoxelType.allCases)
    func decodeBytes(_ type: VoxelType) {
        let n = 4
        let bytes = (0..<(n * type.byteSize)).map { UInt8($0 + 1) }
        let plain = bytes.withUnsafeBytes { VoxelArray(type: type, count: n, bytes: $0, byteSwapped: false) }
        #expect(plain.count == n)
        plain.withUnsafeBytes { #expect(Array($0) == bytes) }
        // Swapping reverses each sample's bytes.
        var swappedInput = bytes
        let sample = type.sampleSize
        for start in stride(from: 0, to: bytes.count, by: sample) { swappedInput[start..<(start + sample)].reverse() }
        let swapped = swappedInput.withUnsafeBytes { VoxelArray(type: type, count: n, bytes: $0, byteSwapped: true) }
        #expect(swapped.withUnsafeBytes { Array($0) } == bytes)
    }

    @Test("a volume refuses a voxel array of the wrong size")
    func sizeMismatch() {
        #expect(throws: VolumeError.voxelCountMismatch(expected: 12, actual: 11)) {
            try Volume(geometry: geometry, voxels: VoxelArray(zeros: .int16, count: 11))
        }
        #expect(throws: VolumeError.self) {
            try Volume(geometry: Geometry(size: SIMD3(0, 2, 2), spacing: SIMD3(1, 1, 1)), voxels: VoxelArray(zeros: .int16, count: 0))
        }
    }

    @Test("copies are independent (copy-on-write value semantics)")
    func copyOnWrite() throws {
        let a = try Volume(geometry: geometry, voxels: .int16(Array(0..<12)))
        var b = a
        try b.replaceVoxels(.int16(Array(repeating: 7, count: 12)))
        #expect(a.value(2, 1, 1) == 11)
        #expect(b.value(2, 1, 1) == 7)
    }

    @Test("values are indexed x fastest and scaled to physical units")
    func indexingAndScaling() throws {
        let v = try Volume(geometry: geometry, voxels: .int16(Array(0..<12)), scaling: IntensityScaling(slope: 2, intercept: -1024))
        #expect(v.linearIndex(1, 1, 1) == 1 + 3 * (1 + 2 * 1))
        #expect(v.value(1, 1, 1) == Double(v.linearIndex(1, 1, 1)) * 2 - 1024)
        #expect(v.physicalRange() == -1024...(-1002))
    }

    @Test("a zero or non-finite slope means unscaled, as in NIfTI")
    func slopeZero() {
        #expect(IntensityScaling(slope: 0, intercept: 5).isIdentity)
        #expect(IntensityScaling(slope: .nan, intercept: 5).isIdentity)
        #expect(IntensityScaling(slope: 2, intercept: .infinity) == IntensityScaling(slope: 2, intercept: 0))
    }

    @Test("stored range ignores NaN")
    func rangeIgnoresNaN() {
        #expect(VoxelArray.float32([.nan, 3, -2, .nan]).storedRange() == -2...3)
        #expect(VoxelArray.float64([.nan]).storedRange() == nil)
    }

    @Test("label maps need integer voxels and list their labels")
    func labelMaps() throws {
        let labels = try LabelMap(Volume(geometry: geometry, voxels: .uint8([0, 0, 1, 1, 5, 0, 0, 0, 0, 2, 2, 0])))
        #expect(labels.labelsPresent() == [0, 1, 2, 5])
        #expect(labels.label(1, 1, 0) == 5)
        #expect(throws: VolumeError.labelMapNeedsIntegerType(.float32)) {
            try LabelMap(Volume(geometry: geometry, voxels: VoxelArray(zeros: .float32, count: 12)))
        }
        #expect(throws: VolumeError.self) {
            try LabelMap(Volume(geometry: geometry, voxels: VoxelArray(zeros: .uint8, count: 12), scaling: IntensityScaling(slope: 2, intercept: 0)))
        }
    }
}
