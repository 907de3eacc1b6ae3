/// DICOM storage SOP classes that VoxelFlow recognises by name.
///
/// Segmentations, RT structure sets and structured reports are not scans: they carry labels, contours or
/// text that refer to a scan. Reading one as an image stack would turn a label map into "slices" that can be
/// interpolated into fractions, so every reader sets them aside under their name.
public enum DICOMSOPClass {
    /// Segmentation Storage (DICOM SEG).
    public static let segmentation = "1.2.840.10008.5.1.4.1.1.66.4"
    /// Label Map Segmentation Storage (the 2024 LABELMAP SEG).
    public static let labelMapSegmentation = "1.2.840.10008.5.1.4.1.1.66.7"
    /// RT Structure Set Storage (RTSTRUCT).
    public static let rtStructureSet = "1.2.840.10008.5.1.4.1.1.481.3"

    /// A readable name for SOP classes that are not images VoxelFlow can stack (segmentations, RT objects,
    /// structured reports, presentation states, raw data, encapsulated documents), or nil for image classes.
    public static func nonImageName(_ uid: String) -> String? {
        switch uid {
        case segmentation: return "Segmentation (DICOM SEG)"
        case labelMapSegmentation: return "Label Map Segmentation (DICOM SEG)"
        case "1.2.840.10008.5.1.4.1.1.66.5": return "Surface Segmentation"
        case rtStructureSet: return "RT Structure Set (RTSTRUCT)"
        case "1.2.840.10008.5.1.4.1.1.481.2": return "RT Dose"
        case "1.2.840.10008.5.1.4.1.1.481.5": return "RT Plan"
        case "1.2.840.10008.5.1.4.1.1.66": return "Raw Data"
        case "1.2.840.10008.5.1.4.1.1.66.1": return "Spatial Registration"
        case "1.2.840.10008.5.1.4.1.1.66.3": return "Deformable Spatial Registration"
        case "1.2.840.10008.5.1.4.1.1.104.1": return "Encapsulated PDF"
        case "1.2.840.10008.1.3.10": return "Media Storage Directory (DICOMDIR)"
        default: break
        }
        if uid.hasPrefix("1.2.840.10008.5.1.4.1.1.88.") { return "Structured Report (SR)" }
        if uid.hasPrefix("1.2.840.10008.5.1.4.1.1.11.") { return "Presentation State" }
        if uid.hasPrefix("1.2.840.10008.5.1.4.1.1.481.") { return "RT object" }
        if uid.hasPrefix("1.2.840.10008.5.1.4.1.1.9.") { return "Waveform" }
        return nil
    }
}
