// CDCMTK shim: writes Secondary Capture images (SC Image Storage, PS3.3 A.8.1) that carry a copy of a
// source slice with label outlines burned in, for PACS that cannot show DICOM SEG (see vf_dcmtk.h).
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <ctime>
#include <exception>
#include <string>

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcuid.h>

namespace {
void setErr(char *err, size_t errlen, const std::string &msg) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", msg.c_str());
}
}  // namespace

extern "C" int vf_sc_write(const char *source_file, const char *path, const vf_sc_attributes *a, const uint8_t *rgb, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmFileFormat source;
        OFCondition status = source.loadFileUntilTag(source_file, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
        if (status.bad()) {
            setErr(err, errlen, std::string("cannot read the source file: ") + status.text());
            return 1;
        }
        DcmDataset *src = source.getDataset();
        DcmFileFormat file;
        DcmDataset *ds = file.getDataset();
        vf_copy_patient_study(*src, *ds, {DCM_Laterality, DCM_PatientOrientation});
        char date[9], time[7], uid[100];
        vf_utc_now(date, time);
        ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
        ds->putAndInsertString(DCM_SeriesInstanceUID, a->series_uid);
        ds->putAndInsertString(DCM_SeriesNumber, std::to_string(a->series_number).c_str());
        ds->putAndInsertString(DCM_InstanceNumber, std::to_string(a->instance_number).c_str());
        ds->putAndInsertString(DCM_SeriesDescription, a->series_description);
        ds->putAndInsertString(DCM_ImageComments, a->comments);
        ds->putAndInsertString(DCM_Modality, "OT");
        ds->putAndInsertString(DCM_ConversionType, "WSD");
        ds->putAndInsertString(DCM_Manufacturer, "VoxelFlow");
        ds->putAndInsertString(DCM_SecondaryCaptureDeviceManufacturer, "VoxelFlow");
        ds->putAndInsertString(DCM_SecondaryCaptureDeviceManufacturerModelName, "voxelflow");
        ds->putAndInsertString(DCM_SecondaryCaptureDeviceSoftwareVersions, "voxelflow");
        ds->putAndInsertString(DCM_ContentDate, date);
        ds->putAndInsertString(DCM_ContentTime, time);
        ds->putAndInsertString(DCM_SeriesDate, date);
        ds->putAndInsertString(DCM_SeriesTime, time);
        ds->putAndInsertString(DCM_ImageType, "DERIVED\\SECONDARY");
        ds->putAndInsertString(DCM_DerivationDescription, "Label outlines burned into a copy of the source slice");
        ds->putAndInsertString(DCM_BurnedInAnnotation, "YES");
        ds->putAndInsertString(DCM_LossyImageCompression, "00");
        // Where the slice lies, so that viewers that use it can link the overlay to the source.
        if (a->position[0] != 0) ds->putAndInsertString(DCM_ImagePositionPatient, a->position);
        if (a->orientation[0] != 0) ds->putAndInsertString(DCM_ImageOrientationPatient, a->orientation);
        if (a->pixel_spacing[0] != 0) ds->putAndInsertString(DCM_PixelSpacing, a->pixel_spacing);
        DcmItem *item = nullptr, *code = nullptr;
        ds->findOrCreateSequenceItem(DCM_SourceImageSequence, item, 0);
        item->putAndInsertString(DCM_ReferencedSOPClassUID, a->source_class);
        item->putAndInsertString(DCM_ReferencedSOPInstanceUID, a->source_instance);
        if (a->source_frame > 0) item->putAndInsertString(DCM_ReferencedFrameNumber, std::to_string(a->source_frame).c_str());
        item->findOrCreateSequenceItem(DCM_PurposeOfReferenceCodeSequence, code, 0);
        code->putAndInsertString(DCM_CodeValue, "121322");
        code->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
        code->putAndInsertString(DCM_CodeMeaning, "Source image for image processing operation");
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 3);
        ds->putAndInsertString(DCM_PhotometricInterpretation, "RGB");
        ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
        ds->putAndInsertUint16(DCM_Rows, a->rows);
        ds->putAndInsertUint16(DCM_Columns, a->columns);
        ds->putAndInsertUint16(DCM_BitsAllocated, 8);
        ds->putAndInsertUint16(DCM_BitsStored, 8);
        ds->putAndInsertUint16(DCM_HighBit, 7);
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
        const unsigned long bytes = static_cast<unsigned long>(a->rows) * a->columns * 3;
        std::string padded(reinterpret_cast<const char *>(rgb), bytes);
        if (padded.size() % 2 == 1) padded.push_back('\0');
        ds->putAndInsertUint8Array(DCM_PixelData, reinterpret_cast<const Uint8 *>(padded.data()), static_cast<unsigned long>(padded.size()));
        status = file.saveFile(path, EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL, EPD_noChange);
        if (status.bad()) {
            setErr(err, errlen, status.text());
            return 1;
        }
        return 0;
    });
}

extern "C" void vf_new_uid(char *out, size_t capacity) {
    char uid[100];
    dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT);
    std::snprintf(out, capacity, "%s", uid);
}
