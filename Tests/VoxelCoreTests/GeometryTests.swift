import Testing
import VoxelCore

@Suite("Geometry")
struct GeometryTests {
    @Test("an affine splits into spacing and unit directions and back")
    func affineRoundTrip() throws {
        // An oblique affine: 20° about z, spacing 0.8 × 0.8 × 2.5.
        let c = 0.9396926207859084, s = 0.3420201433256687
        let affine = Affine(rows: [[0.8 * c, -0.8 * s, 0, -100], [0.8 * s, 0.8 * c, 0, 50], [0, 0, 2.5, 12.5]])
        let g = Geometry(size: SIMD3(10, 20, 30), affine: affine)
        #expect(abs(g.spacing.x - 0.8) < 1e-12 && abs(g.spacing.z - 2.5) < 1e-12)
        #expect(g.affine.maxAbsDifference(to: affine) < 1e-12)
        #expect(g.isOblique())
        #expect(g.voxelCount == 6000)
    }

    @Test("world points and continuous indices are inverse maps")
    func worldIndexInverse() throws {
        let g = Geometry(size: SIMD3(4, 5, 6), spacing: SIMD3(0.5, 2, 3), origin: SIMD3(10, -20, 30),
                         direction: Matrix3(rows: [0, 1, 0, -1, 0, 0, 0, 0, 1]))
        let p = g.worldPoint(atIndex: SIMD3(1, 2, 3))
        let expected = SIMD3<Double>(14, -20.5, 39)
        #expect(p == expected)
        let back = try #require(g.continuousIndex(ofWorldPoint: p))
        #expect(abs(back.x - 1) < 1e-12 && abs(back.y - 2) < 1e-12 && abs(back.z - 3) < 1e-12)
    }

    @Test("orientation codes name where each axis points", arguments: [
        ([1.0, 0, 0, 0, 1, 0, 0, 0, 1], "LPS"),
        ([-1.0, 0, 0, 0, -1, 0, 0, 0, 1], "RAS"),
        ([-1.0, 0, 0, 0, 1, 0, 0, 0, 1], "RPS"),
        ([1.0, 0, 0, 0, 0, -1, 0, 1, 0], "LSA"),   // coronal: j → superior... k → anterior
        ([0.0, 0, 1, 1, 0, 0, 0, 1, 0], "PSL"),    // sagittal
        ([-1.0, 0, 0, 0, 1, 0, 0, 0, -1], "RPI"),
    ])
    func orientationCodes(_ rows: [Double], _ code: String) {
        #expect(Geometry.orientationCode(of: Matrix3(rows: rows)) == code)
    }

    @Test("LPS and RAS flips are their own inverse")
    func lpsRasFlip() {
        let a = Affine(rows: [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
        #expect(a.flippingLPSandRAS.flippingLPSandRAS == a)
        #expect(a.flippingLPSandRAS.rows[0] == [-1, -2, -3, -4])
        #expect(a.flippingLPSandRAS.rows[2] == [9, 10, 11, 12])
    }

    @Test("affine composition and inverse")
    func composition() throws {
        let a = Affine(rows: [[2, 0, 0, 1], [0, 3, 0, 2], [0, 0, 4, 3]])
        let inv = try #require(a.inverse)
        #expect((a * inv).maxAbsDifference(to: .identity) < 1e-12)
        #expect(Affine(linear: Matrix3(rows: [1, 2, 3, 2, 4, 6, 0, 0, 1]), translation: .zero).inverse == nil)
    }
}
