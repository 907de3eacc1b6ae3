#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The DICOM attributes SUV computation needs (empty strings / nil when absent).
public struct PETAttributes: Sendable, Equatable, Codable {
    /// Units (0054,1001), "BQML" for activity concentration.
    public var units: String
    /// PatientWeight (0010,1030) in kg.
    public var patientWeight: Double?
    /// SeriesDate (0008,0021), YYYYMMDD.
    public var seriesDate: String
    /// SeriesTime (0008,0031): with SeriesDate, the reference time decay is corrected to.
    public var seriesTime: String
    /// DecayCorrection (0054,1102): "START", "ADMIN" or "NONE".
    public var decayCorrection: String
    /// RadionuclideTotalDose (0018,1074): injected activity in Bq.
    public var radionuclideTotalDose: Double?
    /// RadionuclideHalfLife (0018,1075) in seconds.
    public var radionuclideHalfLife: Double?
    /// RadiopharmaceuticalStartTime (0018,1072), HHMMSS.FFFFFF, assumed on SeriesDate.
    public var radiopharmaceuticalStartTime: String
    /// RadiopharmaceuticalStartDateTime (0018,1078), preferred over the time alone.
    public var radiopharmaceuticalStartDateTime: String
}

/// Converts PET activity concentration (Bq/mL) to body-weight SUV:
/// `SUVbw = C · weight[g] / (injected dose[Bq] · 2^(−Δt / T½))`, where Δt runs from the injection to the
/// series reference time (SeriesDate/SeriesTime) when DecayCorrection is START, and is 0 when it is ADMIN.
public enum PETQuantitation {
    /// The factor that turns physical values (Bq/mL) into SUVbw.
    /// - Throws: `DICOMSeriesError` naming the first missing or unusable attribute.
    public static func suvBodyWeightFactor(_ h: DICOMHeader, path: String) throws -> Double {
        let p = h.pet
        func fail(_ why: String) -> DICOMSeriesError { DICOMSeriesError(path: path, reason: "cannot compute SUV: \(why)") }
        guard h.modality == "PT" else { throw fail("the series is \(h.modality), not PET (PT)") }
        guard p.units.uppercased() == "BQML" else { throw fail("Units (0054,1001) is '\(p.units)', SUV needs BQML") }
        guard let weight = p.patientWeight, weight > 0 else { throw fail("PatientWeight (0010,1030) is missing or 0") }
        guard let dose = p.radionuclideTotalDose, dose > 0 else {
            throw fail("RadionuclideTotalDose (0018,1074) in RadiopharmaceuticalInformationSequence is missing or 0")
        }
        var decay = 1.0
        switch p.decayCorrection.uppercased() {
        case "ADMIN":
            decay = 1
        case "START":
            guard let halfLife = p.radionuclideHalfLife, halfLife > 0 else { throw fail("RadionuclideHalfLife (0018,1075) is missing or 0") }
            guard let scan = seconds(date: p.seriesDate, time: p.seriesTime) else { throw fail("SeriesTime (0008,0031) is missing or malformed") }
            let injection: Double
            if let dt = dateTimeSeconds(p.radiopharmaceuticalStartDateTime) {
                injection = dt
            } else if let t = seconds(date: p.seriesDate, time: p.radiopharmaceuticalStartTime) {
                // Same day as the series unless that would put the injection after the scan (overnight).
                injection = t > scan ? t - 86_400 : t
            } else {
                throw fail("RadiopharmaceuticalStartTime (0018,1072) / StartDateTime (0018,1078) is missing")
            }
            let elapsed = scan - injection
            guard elapsed >= 0 else { throw fail("the injection time is after the series time") }
            decay = pow2(-elapsed / halfLife)
        default:
            throw fail("DecayCorrection (0054,1102) is '\(p.decayCorrection)'; only START and ADMIN are supported")
        }
        return weight * 1000 / (dose * decay)
    }

    /// Seconds since 0000-01-01 of a DICOM date (YYYYMMDD, optional) and time (HHMMSS.FFFFFF).
    static func seconds(date: String, time: String) -> Double? {
        let t = time.trimmingCharacters(in: [" "])
        guard t.count >= 2, let hh = Double(t.prefix(2)) else { return nil }
        let digits = Array(t)
        func part(_ from: Int, _ length: Int) -> Double {
            guard digits.count >= from + length else { return 0 }
            return Double(String(digits[from..<(from + length)])) ?? 0
        }
        var s = hh * 3600 + part(2, 2) * 60
        if digits.count > 4 { s += Double(String(digits[4...])) ?? part(4, 2) }
        return s + (days(date) ?? 0) * 86_400
    }

    /// Seconds for a DICOM DT value (YYYYMMDDHHMMSS.FFFFFF, time zone ignored).
    static func dateTimeSeconds(_ dt: String) -> Double? {
        let v = dt.trimmingCharacters(in: [" "])
        guard v.count >= 12 else { return nil }
        let date = String(v.prefix(8))
        var time = String(v.dropFirst(8))
        if let tz = time.firstIndex(where: { $0 == "+" || $0 == "-" }) { time = String(time[..<tz]) }
        return seconds(date: date, time: time)
    }

    /// Days since a fixed epoch for YYYYMMDD (proleptic Gregorian), nil when malformed.
    static func days(_ date: String) -> Double? {
        let d = date.trimmingCharacters(in: [" "])
        guard d.count == 8, let y = Int(d.prefix(4)), let m = Int(d.dropFirst(4).prefix(2)), let day = Int(d.suffix(2)) else { return nil }
        let a = (14 - m) / 12, yy = y + 4800 - a, mm = m + 12 * a - 3
        return Double(day + (153 * mm + 2) / 5 + 365 * yy + yy / 4 - yy / 100 + yy / 400 - 32045)
    }

    static func pow2(_ x: Double) -> Double { exp2(x) }
}
