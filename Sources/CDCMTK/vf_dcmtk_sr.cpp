// CDCMTK shim: a DICOM Structured Report of measurements on the segments of a DICOM SEG — the TID 1500
// Measurement Report with one TID 1411 Volumetric ROI Measurements group per segment (DCMTK's dcmsr/cmr).
#include "vf_dcmtk.h"
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/dsrdoc.h>

namespace {

void setErr(char *err, size_t errlen, const std::string &msg) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", msg.c_str());
}

/// Records the first failed condition with what was being done.
struct Steps {
    char *err;
    size_t errlen;
    bool ok = true;
    bool operator()(const OFCondition &status, const char *what) {
        if (ok && status.bad()) {
            setErr(err, errlen, std::string(what) + ": " + status.text());
            ok = false;
        }
        return ok;
    }
};

DSRCodedEntryValue coded(const vf_sr_code &c) {
    return DSRCodedEntryValue(c.value, c.scheme, c.meaning);
}

}  // namespace

extern "C" int vf_sr_write(const char *seg_file, const char *source_series_uid, int intensity_kind, const vf_sr_group *groups,
                           uint32_t count, const char *series_description, const char *device_name, const char *path,
                           char *err, size_t errlen) {
    return vf_guarded(err, errlen, 2, [&]() -> int {
        DcmFileFormat seg;
        OFCondition status = seg.loadFileUntilTag(seg_file, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
        if (status.bad()) {
            setErr(err, errlen, std::string("cannot read the SEG: ") + status.text());
            return 1;
        }
        DcmDataset *segData = seg.getDataset();
        OFString segClass, segInstance;
        if (segData->findAndGetOFString(DCM_SOPClassUID, segClass).bad() || segData->findAndGetOFString(DCM_SOPInstanceUID, segInstance).bad()) {
            setErr(err, errlen, "the SEG has no SOP Class or SOP Instance UID");
            return 1;
        }
        Steps step{err, errlen};
        TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
        step(report.setLanguage(CID5000_Languages(CID5000_Languages::English)), "language");
        char deviceUID[100];
        dcmGenerateUniqueIdentifier(deviceUID, SITE_INSTANCE_UID_ROOT);
        step(report.getObservationContext().addDeviceObserver(deviceUID, device_name), "observer");
        step(report.getImageLibrary().createNewImageLibrary(), "image library");
        step(report.addProcedureReported(DSRCodedEntryValue("363679005", "SCT", "Imaging procedure")), "procedure");
        for (uint32_t g = 0; g < count && step.ok; g++) {
            const vf_sr_group &group = groups[g];
            step(report.addVolumetricROIMeasurements(), "measurement group");
            auto &m = report.getVolumetricROIMeasurements();
            step(m.setTrackingIdentifier(group.tracking_id), "tracking identifier");
            char trackingUID[100];
            dcmGenerateUniqueIdentifier(trackingUID, SITE_INSTANCE_UID_ROOT);
            step(m.setTrackingUniqueIdentifier(trackingUID), "tracking UID");
            DSRImageReferenceValue segment(segClass, segInstance);
            segment.getSegmentList().addItem(group.segment);
            step(m.setReferencedSegment(segment), "referenced segment");
            step(m.setSourceSeriesForSegmentation(source_series_uid), "source series");
            step(m.setFinding(coded(group.finding)), "finding");
            step(m.addMeasurement(CID7469_GenericIntensityAndSizeMeasurements(CID7469_GenericIntensityAndSizeMeasurements::Volume),
                                  CMR_TID1411_in_TID1500::MeasurementValue(group.volume, CID7181_AbstractMultiDimensionalImageModelComponentUnits(
                                      CID7181_AbstractMultiDimensionalImageModelComponentUnits::CubicMillimeter))),
                 "volume");
            if (intensity_kind == 0) continue;
            // Intensity statistics: attenuation in HU for CT, signal without units otherwise, each with its derivation.
            const auto quantity = intensity_kind == 1 ? CID7469_GenericIntensityAndSizeMeasurements::AttenuationCoefficient
                                                      : CID7469_GenericIntensityAndSizeMeasurements::MRSignalIntensity;
            const auto unit = intensity_kind == 1 ? CID7181_AbstractMultiDimensionalImageModelComponentUnits::HounsfieldUnit
                                                  : CID7181_AbstractMultiDimensionalImageModelComponentUnits::NoUnits;
            const std::pair<const char *, CID7464_GeneralRegionOfInterestMeasurementModifiers::EnumType> statistics[] = {
                {group.mean, CID7464_GeneralRegionOfInterestMeasurementModifiers::Mean},
                {group.standard_deviation, CID7464_GeneralRegionOfInterestMeasurementModifiers::StandardDeviation},
                {group.minimum, CID7464_GeneralRegionOfInterestMeasurementModifiers::Minimum},
                {group.maximum, CID7464_GeneralRegionOfInterestMeasurementModifiers::Maximum},
            };
            for (const auto &s : statistics) {
                step(m.addMeasurement(CID7469_GenericIntensityAndSizeMeasurements(quantity),
                                      CMR_TID1411_in_TID1500::MeasurementValue(s.first, CID7181_AbstractMultiDimensionalImageModelComponentUnits(unit))),
                     "intensity measurement");
                step(m.getMeasurement().setDerivation(CID7464_GeneralRegionOfInterestMeasurementModifiers(s.second)), "derivation");
            }
        }
        if (!step.ok) return 1;
        if (!report.isValid()) {
            setErr(err, errlen, "the measurement report is incomplete");
            return 1;
        }
        DSRDocument doc;
        if (!step(doc.setTreeFromRootTemplate(report, OFTrue), "document tree")) return 1;
        OFString studyUID;
        segData->findAndGetOFString(DCM_StudyInstanceUID, studyUID);
        if (!studyUID.empty()) step(doc.createNewSeriesInStudy(studyUID), "study");
        step(doc.setSeriesDescription(series_description), "series description");
        step(doc.setManufacturer(device_name), "manufacturer");
        step(doc.getCurrentRequestedProcedureEvidence().addItem(*segData), "evidence");
        doc.completeDocument();
        DcmFileFormat out;
        DcmDataset *ds = out.getDataset();
        if (!step.ok || !step(doc.write(*ds), "writing the document")) return 1;
        // Patient and study as the SEG (and so its images) have them; an SR has no frame of reference.
        vf_copy_patient_study(*segData, *ds);
        ds->findAndDeleteElement(DCM_FrameOfReferenceUID);
        ds->findAndDeleteElement(DCM_PositionReferenceIndicator);
        status = out.saveFile(path, EXS_LittleEndianExplicit);
        if (status.bad()) {
            setErr(err, errlen, status.text());
            return 1;
        }
        return 0;
    });
}
