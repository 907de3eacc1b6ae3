import Foundation

/// Whether a file may carry identifying text in its pixels, which de-identifying the header cannot remove.
public enum BurnedInAnnotation {
    /// The reason to hold a file back, or nil when nothing suggests burned-in text:
    /// - BurnedInAnnotation (0028,0301) is YES;
    /// - unless it is NO: Secondary Capture objects, ultrasound, photographs and other captured images
    ///   (modality US, OT, XC, ES, GM, SM, DOC), and images typed SCREEN SAVE;
    /// - encapsulated documents (PDF, CDA), whose content cannot be checked.
    public static func reason(sopClassUID: String, modality: String, imageType: String, burnedInAnnotation: String) -> String? {
        let flag = burnedInAnnotation.trimmingCharacters(in: .whitespaces).uppercased()
        if flag == "YES" { return "BurnedInAnnotation is YES" }
        if sopClassUID.hasPrefix("1.2.840.10008.5.1.4.1.1.104.") { return "an encapsulated document (its content cannot be checked)" }
        if flag == "NO" { return nil }
        if sopClassUID.hasPrefix("1.2.840.10008.5.1.4.1.1.7") { return "a Secondary Capture image (may have text burned into its pixels)" }
        if sopClassUID.hasPrefix("1.2.840.10008.5.1.4.1.1.6.") || sopClassUID.hasPrefix("1.2.840.10008.5.1.4.1.1.3.") {
            return "an ultrasound image (may have text burned into its pixels)"
        }
        let mod = modality.trimmingCharacters(in: .whitespaces).uppercased()
        if ["US", "OT", "XC", "ES", "GM", "SM", "DOC"].contains(mod) {
            return "modality \(mod) (captured images often have text burned into their pixels)"
        }
        let types = imageType.uppercased().split(separator: "\\").map { $0.trimmingCharacters(in: .whitespaces) }
        if types.contains("SCREEN SAVE") || types.contains("SCREENSAVE") { return "ImageType SCREEN SAVE (a screen capture)" }
        return nil
    }
}
