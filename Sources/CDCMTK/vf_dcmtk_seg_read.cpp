// CDCMTK shim: reads the segmentation-specific attributes of a DICOM SEG (see vf_dcmtk.h). Pixel data and
// the shared geometry are read by the general image paths (vf_dicom_decode, vf_dicom_frame_geometry).
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <dcmtk/dcmdata/dctk.h>

namespace {

void setErr(char *err, size_t errlen, const std::string &msg) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", msg.c_str());
}

void copyString(DcmItem &item, const DcmTagKey &tag, char *dst, size_t capacity) {
    OFString value;
    dst[0] = 0;
    if (item.findAndGetOFStringArray(tag, value).good()) std::snprintf(dst, capacity, "%s", value.c_str());
}

void copyCode(DcmItem &parent, const DcmTagKey &sequence, char *scheme, char *value, char *meaning) {
    DcmItem *code = nullptr;
    scheme[0] = value[0] = meaning[0] = 0;
    if (parent.findAndGetSequenceItem(sequence, code, 0).bad() || code == nullptr) return;
    copyString(*code, DCM_CodingSchemeDesignator, scheme, 17);
    copyString(*code, DCM_CodeValue, value, 65);
    if (value[0] == 0) copyString(*code, DCM_LongCodeValue, value, 65);
    copyString(*code, DCM_CodeMeaning, meaning, 65);
}

/// The first item of `sequence` in `group`, or nullptr.
DcmItem *firstOf(DcmItem *group, const DcmTagKey &sequence) {
    DcmItem *item = nullptr;
    if (group == nullptr || group->findAndGetSequenceItem(sequence, item, 0).bad()) return nullptr;
    return item;
}

}  // namespace

extern "C" int vf_seg_read_info(vf_dicom_file *file, vf_seg_info *out, char *err, size_t errlen) {
    std::memset(out, 0, sizeof(*out));
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmDataset *ds = file->format.getDataset();
        if (ds == nullptr) {
            setErr(err, errlen, "no dataset");
            return 1;
        }
        copyString(*ds, DCM_SOPClassUID, out->sop_class_uid, sizeof(out->sop_class_uid));
        copyString(*ds, DCM_SegmentationType, out->segmentation_type, sizeof(out->segmentation_type));
        copyString(*ds, DCM_SegmentationFractionalType, out->fractional_type, sizeof(out->fractional_type));
        copyString(*ds, DCM_FrameOfReferenceUID, out->frame_of_reference_uid, sizeof(out->frame_of_reference_uid));
        Uint16 maximum = 0;
        if (ds->findAndGetUint16(DCM_MaximumFractionalValue, maximum).good()) out->max_fractional_value = maximum;
        DcmItem *series = nullptr;
        if (ds->findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, 0).good() && series != nullptr)
            copyString(*series, DCM_SeriesInstanceUID, out->referenced_series_uid, sizeof(out->referenced_series_uid));
        DcmSequenceOfItems *segments = nullptr;
        if (ds->findAndGetSequence(DCM_SegmentSequence, segments).good() && segments != nullptr) out->segments = segments->card();
        DcmSequenceOfItems *frames = nullptr;
        if (ds->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames).good() && frames != nullptr)
            out->per_frame_items = frames->card();
        return 0;
    });
}

extern "C" int vf_seg_read_segment(vf_dicom_file *file, uint32_t index, vf_seg_segment *out) {
    std::memset(out, 0, sizeof(*out));
    try {
        DcmItem *item = nullptr;
        if (file->format.getDataset()->findAndGetSequenceItem(DCM_SegmentSequence, item, static_cast<int>(index)).bad() || item == nullptr)
            return 1;
        Uint16 number = 0;
        out->has_number = item->findAndGetUint16(DCM_SegmentNumber, number).good() ? 1 : 0;
        out->number = number;
        copyString(*item, DCM_SegmentLabel, out->label, sizeof(out->label));
        copyString(*item, DCM_SegmentDescription, out->description, sizeof(out->description));
        copyString(*item, DCM_SegmentAlgorithmType, out->algorithm_type, sizeof(out->algorithm_type));
        copyString(*item, DCM_SegmentAlgorithmName, out->algorithm_name, sizeof(out->algorithm_name));
        copyCode(*item, DCM_SegmentedPropertyCategoryCodeSequence, out->category_scheme, out->category_value, out->category_meaning);
        copyCode(*item, DCM_SegmentedPropertyTypeCodeSequence, out->type_scheme, out->type_value, out->type_meaning);
        copyCode(*item, DCM_AnatomicRegionSequence, out->region_scheme, out->region_value, out->region_meaning);
        for (unsigned long i = 0; i < 3; i++) {
            Uint16 v = 0;
            if (item->findAndGetUint16(DCM_RecommendedDisplayCIELabValue, v, i).bad()) break;
            out->cielab[i] = v;
            if (i == 2) out->has_cielab = 1;
        }
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_seg_read_frames(vf_dicom_file *file, uint32_t count, double *positions, uint8_t *has_position, uint16_t *segments) {
    try {
        DcmDataset *ds = file->format.getDataset();
        DcmSequenceOfItems *frames = nullptr;
        ds->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, frames);
        DcmItem *shared = nullptr;
        ds->findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0);
        // Values the shared group gives every frame (a one-segment SEG may identify its segment there).
        Uint16 sharedSegment = 0;
        if (DcmItem *id = firstOf(shared, DCM_SegmentIdentificationSequence)) id->findAndGetUint16(DCM_ReferencedSegmentNumber, sharedSegment);
        Float64 sharedPosition[3] = {0, 0, 0};
        bool hasSharedPosition = false;
        if (DcmItem *pos = firstOf(shared, DCM_PlanePositionSequence)) {
            hasSharedPosition = true;
            for (unsigned long i = 0; i < 3 && hasSharedPosition; i++)
                hasSharedPosition = pos->findAndGetFloat64(DCM_ImagePositionPatient, sharedPosition[i], i).good();
        }
        // One pass over the per-frame items (indexing a DCMTK sequence item by item would be quadratic).
        DcmObject *object = nullptr;
        for (uint32_t f = 0; f < count; f++) {
            DcmItem *group = nullptr;
            if (frames != nullptr) {
                object = frames->nextInContainer(object);
                group = OFstatic_cast(DcmItem *, object);
            }
            segments[f] = sharedSegment;
            if (DcmItem *id = firstOf(group, DCM_SegmentIdentificationSequence)) {
                Uint16 s = 0;
                if (id->findAndGetUint16(DCM_ReferencedSegmentNumber, s).good()) segments[f] = s;
            }
            has_position[f] = 0;
            if (DcmItem *pos = firstOf(group, DCM_PlanePositionSequence)) {
                bool ok = true;
                for (unsigned long i = 0; i < 3 && ok; i++) ok = pos->findAndGetFloat64(DCM_ImagePositionPatient, positions[3 * f + i], i).good();
                has_position[f] = ok ? 1 : 0;
            }
            if (!has_position[f] && hasSharedPosition) {
                for (int i = 0; i < 3; i++) positions[3 * f + i] = sharedPosition[i];
                has_position[f] = 1;
            }
        }
        return 0;
    } catch (...) {
        return 1;
    }
}
