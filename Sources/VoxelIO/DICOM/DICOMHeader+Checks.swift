import VoxelCore
import VoxelSupport

/// Plausibility checks of the numeric attributes a DICOM file's geometry and values depend on.
///
/// Headers are untrusted: a NaN, infinite or absurd PixelSpacing, ImageOrientationPatient or
/// ImagePositionPatient would otherwise reach integer conversions and affines. Files that fail these checks
/// are listed by `DICOMScanner` as unreadable with the attribute named, and never become part of a stack.
public enum DICOMValueCheck {
    /// Largest accepted pixel or slice spacing, mm (10 m).
    public static let maximumSpacing = 10_000.0
    /// Largest accepted |coordinate| of ImagePositionPatient, mm (10 km).
    public static let maximumPosition = 1e7
    /// Largest accepted |RescaleSlope| and |RescaleIntercept|.
    public static let maximumRescale = 1e12

    /// Why a slice's geometry is unusable, or nil.
    /// - Parameters:
    ///   - position: ImagePositionPatient (LPS mm).
    ///   - orientation: ImageOrientationPatient (6 direction cosines).
    ///   - spacing: PixelSpacing (row spacing, column spacing; mm).
    ///   - frame: the frame number, for multi-frame files (named in the message), or nil.
    public static func geometryProblem(position: [Double]?, orientation: [Double]?, spacing: [Double]?, frame: Int? = nil) -> String? {
        let at = frame.map { " of frame \($0 + 1)" } ?? ""
        if let p = position {
            guard p.count == 3, p.allSatisfy({ $0.isFinite && abs($0) <= maximumPosition }) else {
                return "ImagePositionPatient (0020,0032)\(at) is unusable: \(list(p)) (three finite coordinates within ±\(Int(maximumPosition)) mm expected)"
            }
        }
        if let o = orientation {
            guard o.count == 6, o.allSatisfy({ $0.isFinite && abs($0) <= 1.01 }) else {
                return "ImageOrientationPatient (0020,0037)\(at) is unusable: \(list(o)) (six finite direction cosines expected)"
            }
            let rowNorm = (o[0] * o[0] + o[1] * o[1] + o[2] * o[2]).squareRoot()
            let columnNorm = (o[3] * o[3] + o[4] * o[4] + o[5] * o[5]).squareRoot()
            guard abs(rowNorm - 1) < 0.01, abs(columnNorm - 1) < 0.01 else {
                return "ImageOrientationPatient (0020,0037)\(at) is unusable: \(list(o)) (the row and column directions must be unit vectors)"
            }
        }
        if let s = spacing {
            guard s.count == 2, s.allSatisfy({ $0.isFinite && $0 > 0 && $0 <= maximumSpacing }) else {
                return "PixelSpacing (0028,0030)\(at) is unusable: \(list(s)) (two finite spacings above 0 and at most \(Int(maximumSpacing)) mm expected)"
            }
        }
        return nil
    }

    /// Why a rescale is unusable, or nil.
    public static func rescaleProblem(slope: Double?, intercept: Double?, frame: Int? = nil) -> String? {
        let at = frame.map { " of frame \($0 + 1)" } ?? ""
        if let slope, !(slope.isFinite && abs(slope) <= maximumRescale) {
            return "RescaleSlope (0028,1053)\(at) is unusable: \(slope)"
        }
        if let intercept, !(intercept.isFinite && abs(intercept) <= maximumRescale) {
            return "RescaleIntercept (0028,1052)\(at) is unusable: \(intercept)"
        }
        return nil
    }

    static func list(_ values: [Double]) -> String {
        values.map { "\($0)" }.joined(separator: "\\")
    }
}

extension DICOMHeader {
    /// Why this file's geometry or rescale cannot be trusted, or nil (checks the file-level attributes;
    /// per-frame values of enhanced files are checked on each `DICOMSlice`).
    public var valueProblem: String? {
        if identifierTooLong { return "a UID or the PatientID is longer than 256 characters (DICOM allows 64); the file is set aside so that no two series or patients are mixed" }
        return DICOMValueCheck.geometryProblem(position: imagePosition, orientation: imageOrientation, spacing: pixelSpacing)
            ?? DICOMValueCheck.rescaleProblem(slope: rescaleSlope, intercept: rescaleIntercept)
    }

    /// The header with every non-finite number replaced by nil, and one warning per replaced attribute
    /// (for reports such as `voxelflow info --json`, whose JSON cannot hold NaN or infinity).
    public func withFiniteValues() -> (header: DICOMHeader, warnings: [String]) {
        var h = self
        var warnings: [String] = []
        func fix(_ value: inout Double?, _ name: String) {
            if let v = value, !v.isFinite { warnings.append("\(name) is not a finite number (\(v)); shown as null"); value = nil }
        }
        func fix(_ value: inout [Double]?, _ name: String) {
            if let v = value, !v.allSatisfy(\.isFinite) {
                warnings.append("\(name) holds a value that is not a finite number (\(DICOMValueCheck.list(v))); shown as null")
                value = nil
            }
        }
        fix(&h.imagePosition, "ImagePositionPatient (0020,0032)")
        fix(&h.imageOrientation, "ImageOrientationPatient (0020,0037)")
        fix(&h.pixelSpacing, "PixelSpacing (0028,0030)")
        fix(&h.sliceThickness, "SliceThickness (0018,0050)")
        fix(&h.rescaleSlope, "RescaleSlope (0028,1053)")
        fix(&h.rescaleIntercept, "RescaleIntercept (0028,1052)")
        fix(&h.spacingBetweenSlices, "SpacingBetweenSlices (0018,0088)")
        fix(&h.gantryTilt, "GantryDetectorTilt (0018,1120)")
        fix(&h.csaSliceNormal, "the CSA SliceNormalVector")
        fix(&h.pet.patientWeight, "PatientWeight (0010,1030)")
        fix(&h.pet.radionuclideTotalDose, "RadionuclideTotalDose (0018,1074)")
        fix(&h.pet.radionuclideHalfLife, "RadionuclideHalfLife (0018,1075)")
        return (h, warnings)
    }
}

extension DICOMSlice {
    /// Why this slice's geometry or rescale cannot be trusted, or nil.
    public var valueProblem: String? {
        let frameNumber = header.numberOfFrames > 1 ? frame : nil
        return DICOMValueCheck.geometryProblem(position: position.map { [$0.x, $0.y, $0.z] }, orientation: orientation,
                                               spacing: pixelSpacing, frame: frameNumber)
            ?? DICOMValueCheck.rescaleProblem(slope: rescale.slope, intercept: rescale.intercept, frame: frameNumber)
    }
}
