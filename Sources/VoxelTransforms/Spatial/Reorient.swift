import VoxelCore

/// Reorders the voxel axes so the grid has the orientation `target` ("RAS", "LPS", "LAS", …, nibabel-style
/// letters naming where each axis points). A pure permutation and flip of axes: no interpolation, world
/// coordinates unchanged, exactly invertible (`plan(for:).inverse`). For oblique grids the closest axes are
/// used, as nibabel's `as_closest_canonical` does.
public struct Reorient: Codable, Sendable, Equatable {
    /// Three letters, one from each of R/L, A/P, S/I.
    public var target: String

    /// Creates the transform, checking the code.
    public init(target: String) throws {
        let code = target.uppercased()
        let pairs: [Set<Character>] = [["R", "L"], ["A", "P"], ["S", "I"]]
        guard code.count == 3, pairs.allSatisfy({ !$0.intersection(code).isEmpty }) else {
            throw TransformError.invalidParameter("orientation '\(target)' must use one letter of each of R/L, A/P and S/I")
        }
        self.target = code
    }

    /// The axis permutation that takes `geometry` to the target orientation.
    public func plan(for geometry: Geometry) -> AxisPermutation {
        let current = Array(geometry.orientationCode)
        let opposite: [Character: Character] = ["R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"]
        var axes = [0, 1, 2], flips = [false, false, false]
        for (c, letter) in target.enumerated() {
            if let same = current.firstIndex(of: letter) {
                axes[c] = same
            } else if let other = opposite[letter], let flipped = current.firstIndex(of: other) {
                axes[c] = flipped
                flips[c] = true
            }
        }
        if Set(axes).count != 3 { return .identity(size: geometry.size) }  // degenerate direction: leave as is
        return AxisPermutation(axes: axes, flips: flips, inputSize: [geometry.size.x, geometry.size.y, geometry.size.z])
    }

    /// Reoriented volume and the permutation that undoes it.
    public func apply(_ volume: Volume) throws -> (volume: Volume, inverse: AxisPermutation) {
        let p = plan(for: volume.geometry)
        return (try p.apply(volume), p.inverse)
    }
}
