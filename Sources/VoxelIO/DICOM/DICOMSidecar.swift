import VoxelCore
import VoxelSupport

/// The b-values and gradient directions of a diffusion series, one per volume, in the conventions of FSL
/// and dcm2niix: vectors in the voxel axes of the written image, with the first component negated when the
/// image's affine has a positive determinant; b = 0 volumes and volumes without a direction get (0, 0, 0).
public struct DiffusionTable: Sendable, Equatable {
    /// b-value of each volume, s/mm².
    public var bValues: [Double]
    /// Unit gradient direction of each volume in the FSL voxel convention described above.
    public var vectors: [SIMD3<Double>]

    /// The table of `acquisitions` (one per volume, in volume order) for an image on `geometry`; nil when
    /// no volume reports a b-value.
    public init?(_ acquisitions: [DICOMAcquisition], geometry: Geometry) {
        self.init(weights: acquisitions.map(\.diffusion), geometry: geometry)
    }

    /// The table of the given weightings (one per volume, nil where a volume has none); nil when no volume
    /// has one. `DICOMStack.volumeWeightings` gives them for enhanced multi-frame series.
    public init?(weights: [(bValue: Double, gradient: SIMD3<Double>?)?], geometry: Geometry) {
        guard weights.contains(where: { $0 != nil }) else { return nil }
        let axes = (0..<3).map { geometry.direction.column($0) }
        let flipX = geometry.direction.determinant > 0
        bValues = weights.map { $0?.bValue ?? 0 }
        vectors = weights.map { w in
            guard let w, w.bValue > 0, let g = w.gradient else { return .zero }
            var v = SIMD3((g * axes[0]).sum(), (g * axes[1]).sum(), (g * axes[2]).sum())
            if flipX { v.x = -v.x }
            return v
        }
    }

    /// The `.bval` file: the b-values on one line, separated by spaces.
    public var bvalText: String { bValues.map(Self.text).joined(separator: " ") + "\n" }

    /// The `.bvec` file: three lines (x, y and z components), one column per volume.
    public var bvecText: String {
        (0..<3).map { c in vectors.map { Self.text($0[c]) }.joined(separator: " ") }.joined(separator: "\n") + "\n"
    }

    /// A number with six significant digits, whole numbers without a decimal point.
    static func text(_ v: Double) -> String {
        let r = DICOMSidecar.significant(v, 6)
        if r == r.rounded(), abs(r) < 1e15, let i = Int(exactly: r) { return String(i) }
        return "\(r)"
    }
}

/// A BIDS-style JSON sidecar for a converted DICOM series: the acquisition fields dcm2niix writes that apply,
/// in its names and units (times in seconds), computed for the image as VoxelFlow writes it (voxel axes
/// along the DICOM rows, columns and slice normal). Patient, institution and device identifiers are left
/// out unless asked for.
public enum DICOMSidecar {
    /// Keywords whose values identify a patient, a site or a device.
    public static let identifierKeywords = ["InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
                                            "StationName", "DeviceSerialNumber", "PatientName", "PatientID",
                                            "PatientBirthDate", "PatientSex", "PatientAge", "PatientWeight",
                                            "AccessionNumber", "StudyDate", "AcquisitionDate", "StudyID",
                                            "StudyInstanceUID", "SeriesInstanceUID"]

    /// The sidecar of `stack` converted into `volume`, from the first file's attributes (and every file's
    /// for a MOSAIC series' slice timing).
    /// - Parameters:
    ///   - acquisition: the attributes of the stack's first file (`DICOMAcquisition.read`).
    ///   - identifiers: also write the identifying attributes (`identifierKeywords`).
    ///   - software: the converting software's name and version.
    public static func json(stack: DICOMStack, volume: Volume, acquisition a: DICOMAcquisition, identifiers: Bool = false,
                            software: (name: String, version: String)) -> JSON {
        var out: [(String, JSON)] = []
        func text(_ key: String, as name: String? = nil) {
            if let v = a.values[key], !v.isEmpty { out.append((name ?? key, .string(v))) }
        }
        func number(_ key: String, as name: String? = nil, scale: Double = 1) {
            if let v = a.number(key) { out.append((name ?? key, .number(significant(v * scale, 8)))) }
        }
        func integer(_ key: String, as name: String? = nil) {
            if let v = a.number(key), let i = Int(exactly: v.rounded()) { out.append((name ?? key, .int(i))) }
        }
        text("Modality")
        number("MagneticFieldStrength")
        number("ImagingFrequency")
        if let m = a.values["Manufacturer"] { out.append(("Manufacturer", .string(manufacturer(m)))) }
        text("ManufacturersModelName")
        if identifiers {
            for key in ["InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName", "DeviceSerialNumber"] { text(key) }
        }
        text("BodyPartExamined")
        text("PatientPosition")
        text("PerformedProcedureStepDescription", as: "ProcedureStepDescription")
        text("SoftwareVersions")
        text("MRAcquisitionType")
        if identifiers {
            for key in ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge"] { text(key) }
            number("PatientWeight")
            for key in ["AccessionNumber", "StudyID", "StudyDate", "AcquisitionDate", "StudyInstanceUID", "SeriesInstanceUID"] { text(key) }
        }
        text("StudyDescription")
        text("SeriesDescription")
        text("ProtocolName")
        text("ScanningSequence")
        text("SequenceVariant")
        text("ScanOptions")
        text("SequenceName")
        if let t = a.values["ImageType"] {
            out.append(("ImageType", .array(t.split(separator: "\\", omittingEmptySubsequences: false).map { .string(String($0)) })))
        }
        integer("SeriesNumber")
        if let t = a.values["AcquisitionTime"], let formatted = time(t) { out.append(("AcquisitionTime", .string(formatted))) }
        integer("AcquisitionNumber")
        number("SliceThickness")
        number("SpacingBetweenSlices")
        number("SAR")
        integer("EchoNumbers", as: "EchoNumber")
        number("EchoTime", scale: 0.001)
        number("RepetitionTime", scale: 0.001)
        number("InversionTime", scale: 0.001)
        number("FlipAngle")
        integer("EchoTrainLength")
        // CT and PET.
        text("ConvolutionKernel")
        number("KVP", as: "XRayKVP")
        number("XRayTubeCurrent")
        number("ExposureTime", scale: 0.001)
        number("ReconstructionDiameter")
        text("ContrastBolusAgent")
        text("Units")
        text("DecayCorrection")
        text("AttenuationCorrectionMethod", as: "AttenuationCorrection")
        text("ReconstructionMethod")
        // Phase encoding and readout.
        text("ReceiveCoilName")
        number("PercentPhaseFieldOfView", as: "PercentPhaseFOV")
        number("PercentSampling")
        integer("NumberOfPhaseEncodingSteps", as: "PhaseEncodingSteps")
        let size = volume.geometry.size
        let direction = a.values["InPlanePhaseEncodingDirection"]?.trimmingCharacters(in: [" "]).uppercased()
        let reconPE: Int? = direction == "COL" ? size.y : direction == "ROW" ? size.x : nil
        if let m = a.numbers("AcquisitionMatrix"), m.count == 4, let pe = Int(exactly: max(m[2], m[3]).rounded()), pe > 0 {
            out.append(("AcquisitionMatrixPE", .int(pe)))
        }
        if let reconPE { out.append(("ReconMatrixPE", .int(reconPE))) }
        if let bw = a.csaNumbers("BandwidthPerPixelPhaseEncode")?.first, bw > 0, let reconPE, reconPE > 1 {
            out.append(("BandwidthPerPixelPhaseEncode", .number(significant(bw, 8))))
            let spacing = 1 / (bw * Double(reconPE))
            out.append(("EffectiveEchoSpacing", .number(significant(spacing, 6))))
            out.append(("TotalReadoutTime", .number(significant(spacing * Double(reconPE - 1), 6))))
        }
        number("PixelBandwidth")
        if let direction, direction == "COL" || direction == "ROW" {
            let axis = direction == "COL" ? "j" : "i"
            if let positive = a.csaNumbers("PhaseEncodingDirectionPositive")?.first {
                // Voxel axes follow the DICOM rows and columns, so the CSA polarity applies as it is.
                out.append(("PhaseEncodingDirection", .string(axis + (positive == 1 ? "" : "-"))))
            } else {
                out.append(("PhaseEncodingAxis", .string(axis)))
            }
        }
        if stack.header.isMosaic, let times = a.csaNumbers("MosaicRefAcqTimes"), times.count == size.z {
            out.append(("SliceTiming", .array(times.map { .number(significant($0 / 1000, 6)) })))
        }
        if let o = stack.slices[0].orientation, o.count == 6 {
            out.append(("ImageOrientationPatientDICOM", .array(o.map { .number($0) })))
        }
        text("InPlanePhaseEncodingDirection", as: "InPlanePhaseEncodingDirectionDICOM")
        out.append(("ConversionSoftware", .string(software.name)))
        out.append(("ConversionSoftwareVersion", .string(software.version)))
        return .object(out)
    }

    /// dcm2niix's short manufacturer names ("SIEMENS" → "Siemens", "GE MEDICAL SYSTEMS" → "GE", …).
    static func manufacturer(_ raw: String) -> String {
        let u = raw.uppercased()
        let names = [("SIEMENS", "Siemens"), ("GE ", "GE"), ("GE_", "GE"), ("PHILIPS", "Philips"), ("TOSHIBA", "Toshiba"),
                     ("CANON", "Canon"), ("HITACHI", "Hitachi"), ("UIH", "UIH"), ("UNITED IMAGING", "UIH"), ("BRUKER", "Bruker")]
        if u == "GE" { return "GE" }
        for (key, name) in names where u.hasPrefix(key) || u.contains(key) { return name }
        return raw.trimmingCharacters(in: [" "])
    }

    /// "HHMMSS.ffffff" as "HH:MM:SS.ffffff"; nil when it is not a DICOM time.
    static func time(_ raw: String) -> String? {
        let t = raw.trimmingCharacters(in: [" "])
        let digits = Array(t.prefix { $0.isNumber })
        guard digits.count >= 4 else { return nil }
        let hh = String(digits[0..<2]), mm = String(digits[2..<4])
        let ss = digits.count >= 6 ? String(digits[4..<6]) : "00"
        return "\(hh):\(mm):\(ss)" + String(t.dropFirst(digits.count))
    }

    /// `v` rounded to `digits` significant digits.
    static func significant(_ v: Double, _ digits: Int) -> Double {
        guard v != 0, v.isFinite else { return v }
        let n = digits - 1 - Int(abs(v).log10Floor)
        guard abs(n) <= 22 else { return v }
        // Powers of ten up to 10^22 are exact doubles, so one division or multiplication rounds once.
        var p = 1.0
        for _ in 0..<abs(n) { p *= 10 }
        let r = n >= 0 ? (v * p).rounded() / p : (v / p).rounded() * p
        return r.isFinite ? r : v
    }
}

extension Double {
    /// ⌊log10(|self|)⌋ for finite non-zero values, without Foundation.
    var log10Floor: Double {
        var v = abs(self), e = 0.0
        while v >= 10 { v /= 10; e += 1 }
        while v < 1 { v *= 10; e -= 1 }
        return e
    }
}
