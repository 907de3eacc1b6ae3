import Testing
import TestSupport
import VoxelSupport
@testable import VoxelNN

/// Pieces of nnU-Net's preprocessing that the model-folder parity tests may not reach on CT inputs.
@Suite("nnU-Net preprocessing pieces")
struct NNUNetPreprocessingTests {
    /// A voxel-by-voxel flood from the border (6-connected), written independently of the row-run version.
    static func referenceFill(_ mask: [Bool], _ s: [Int]) -> [Bool] {
        var outside = [Bool](repeating: false, count: mask.count)
        var stack: [(Int, Int, Int)] = []
        for a in 0..<s[0] { for b in 0..<s[1] { for c in 0..<s[2] where a == 0 || b == 0 || c == 0 || a == s[0] - 1 || b == s[1] - 1 || c == s[2] - 1 {
            stack.append((a, b, c))
        } } }
        while let (a, b, c) = stack.popLast() {
            guard a >= 0, b >= 0, c >= 0, a < s[0], b < s[1], c < s[2] else { continue }
            let i = (a * s[1] + b) * s[2] + c
            guard !mask[i], !outside[i] else { continue }
            outside[i] = true
            stack += [(a - 1, b, c), (a + 1, b, c), (a, b - 1, c), (a, b + 1, c), (a, b, c - 1), (a, b, c + 1)]
        }
        return outside.map { !$0 }
    }

    @Test("fill-holes fills a closed shell's inside and nothing that reaches the border")
    func shell() {
        let s = [5, 6, 7]
        var mask = [Bool](repeating: false, count: 5 * 6 * 7)
        for a in 1...3 { for b in 1...4 { for c in 1...5 where a == 1 || a == 3 || b == 1 || b == 4 || c == 1 || c == 5 {
            mask[(a * 6 + b) * 7 + c] = true
        } } }
        let filled = NNUNetPreprocessing.fillHoles(mask, shape: s)
        #expect(filled[(2 * 6 + 2) * 7 + 3])
        #expect(filled.filter { $0 }.count == 3 * 4 * 5)
        // Open the shell to the border: nothing inside is filled any more.
        mask[(2 * 6 + 2) * 7 + 5] = false
        mask[(2 * 6 + 2) * 7 + 6] = false
        #expect(!NNUNetPreprocessing.fillHoles(mask, shape: s)[(2 * 6 + 2) * 7 + 3])
    }

    @Test("fill-holes equals a voxel-by-voxel flood on random masks", arguments: [1, 2, 3, 4, 5])
    func random(_ seed: Int) {
        var generator = SeededGenerator(seed: UInt64(seed))
        let s = [9, 11, 13]
        let mask = (0..<(9 * 11 * 13)).map { _ in generator.unit() < 0.45 }
        #expect(NNUNetPreprocessing.fillHoles(mask, shape: s) == Self.referenceFill(mask, s))
    }
}
