// CDCMTK shim: builds and reads DICOM RT Structure Sets (RTSTRUCT, PS3.3 A.19) with DCMTK's data dictionary
// (see vf_dcmtk.h). Contours are planar closed polygons in patient coordinates (mm).
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcuid.h>

struct vf_rt {
    DcmFileFormat file;
    std::string frameOfReference;
    std::string studyUID;
    std::string seriesUID;
    std::vector<std::pair<std::string, std::string>> images;  // (class, instance) of the referenced series
    std::map<int, DcmItem *> roiContours;                      // ROI number -> its ROIContourSequence item
};

namespace {

void setErr(char *err, size_t errlen, const std::string &msg) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", msg.c_str());
}

std::string newUID() {
    char uid[100];
    dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
    return uid;
}

/// A decimal string of at most 16 characters for a coordinate (PS3.5: DS values are limited to 16).
std::string decimal(double v) {
    char buffer[32];
    for (int digits = 10; digits >= 1; digits--) {
        std::snprintf(buffer, sizeof(buffer), "%.*g", digits, v);
        if (std::strlen(buffer) <= 16) return buffer;
    }
    return "0";
}

void copyString(DcmItem &item, const DcmTagKey &tag, char *dst, size_t capacity) {
    OFString value;
    dst[0] = 0;
    if (item.findAndGetOFStringArray(tag, value).good()) std::snprintf(dst, capacity, "%s", value.c_str());
}


}  // namespace

extern "C" vf_rt *vf_rt_create(const char *source_file, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<vf_rt *>(nullptr), [&]() -> vf_rt * {
        DcmFileFormat source;
        OFCondition status = source.loadFileUntilTag(source_file, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
        if (status.bad()) {
            setErr(err, errlen, std::string("cannot read the source file: ") + status.text());
            return nullptr;
        }
        DcmDataset *src = source.getDataset();
        OFString frameOfReference, study, series;
        if (src->findAndGetOFString(DCM_FrameOfReferenceUID, frameOfReference).bad() || frameOfReference.empty()) {
            setErr(err, errlen, "the source series has no FrameOfReferenceUID, so contours could not be placed on it");
            return nullptr;
        }
        src->findAndGetOFString(DCM_StudyInstanceUID, study);
        src->findAndGetOFString(DCM_SeriesInstanceUID, series);
        auto *rt = new vf_rt();
        rt->frameOfReference = frameOfReference.c_str();
        rt->studyUID = study.c_str();
        rt->seriesUID = series.c_str();
        DcmDataset *ds = rt->file.getDataset();
        vf_copy_patient_study(*src, *ds, {DCM_OperatorsName});
        char date[9], time[7];
        vf_utc_now(date, time);
        ds->putAndInsertString(DCM_SOPClassUID, UID_RTStructureSetStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID, newUID().c_str());
        ds->putAndInsertString(DCM_SeriesInstanceUID, newUID().c_str());
        ds->putAndInsertString(DCM_Modality, "RTSTRUCT");
        ds->putAndInsertString(DCM_SeriesNumber, "301");
        ds->putAndInsertString(DCM_InstanceNumber, "1");
        ds->putAndInsertString(DCM_SeriesDate, date);
        ds->putAndInsertString(DCM_SeriesTime, time);
        ds->putAndInsertString(DCM_InstanceCreationDate, date);
        ds->putAndInsertString(DCM_InstanceCreationTime, time);
        ds->putAndInsertString(DCM_Manufacturer, "VoxelFlow");
        ds->putAndInsertString(DCM_ManufacturerModelName, "voxelflow");
        ds->putAndInsertString(DCM_SoftwareVersions, "voxelflow");
        ds->putAndInsertString(DCM_StructureSetLabel, "VoxelFlow");
        ds->putAndInsertString(DCM_StructureSetName, "VoxelFlow");
        ds->putAndInsertString(DCM_StructureSetDate, date);
        ds->putAndInsertString(DCM_StructureSetTime, time);
        return rt;
    });
}

extern "C" void vf_rt_free(vf_rt *rt) { delete rt; }

extern "C" int vf_rt_set_string(vf_rt *rt, uint16_t group, uint16_t element, const char *value) {
    try {
        return rt->file.getDataset()->putAndInsertString(DcmTagKey(group, element), value).good() ? 0 : 1;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_rt_add_image(vf_rt *rt, const char *class_uid, const char *instance_uid) {
    try {
        rt->images.emplace_back(class_uid, instance_uid);
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_rt_add_roi(vf_rt *rt, int32_t number, const char *name, const char *algorithm, const char *interpreted_type,
                             uint8_t red, uint8_t green, uint8_t blue) {
    try {
        DcmDataset *ds = rt->file.getDataset();
        DcmItem *roi = nullptr, *contour = nullptr, *observation = nullptr;
        const std::string n = std::to_string(number);
        if (ds->findOrCreateSequenceItem(DCM_StructureSetROISequence, roi, -2).bad()) return 1;
        roi->putAndInsertString(DCM_ROINumber, n.c_str());
        roi->putAndInsertString(DCM_ReferencedFrameOfReferenceUID, rt->frameOfReference.c_str());
        roi->putAndInsertString(DCM_ROIName, name);
        roi->putAndInsertString(DCM_ROIGenerationAlgorithm, algorithm);
        if (ds->findOrCreateSequenceItem(DCM_ROIContourSequence, contour, -2).bad()) return 1;
        const std::string color = std::to_string(red) + "\\" + std::to_string(green) + "\\" + std::to_string(blue);
        contour->putAndInsertString(DCM_ROIDisplayColor, color.c_str());
        contour->putAndInsertString(DCM_ReferencedROINumber, n.c_str());
        rt->roiContours[number] = contour;
        if (ds->findOrCreateSequenceItem(DCM_RTROIObservationsSequence, observation, -2).bad()) return 1;
        observation->putAndInsertString(DCM_ObservationNumber, n.c_str());
        observation->putAndInsertString(DCM_ReferencedROINumber, n.c_str());
        observation->putAndInsertString(DCM_RTROIInterpretedType, interpreted_type);
        observation->insertEmptyElement(DCM_ROIInterpreter);
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_rt_add_contour(vf_rt *rt, int32_t roi, const char *image_class, const char *image_instance, int32_t image_frame,
                                 const double *points, uint32_t count) {
    try {
        auto found = rt->roiContours.find(roi);
        if (found == rt->roiContours.end() || count < 3) return 1;
        DcmItem *contour = nullptr, *image = nullptr;
        if (found->second->findOrCreateSequenceItem(DCM_ContourSequence, contour, -2).bad()) return 1;
        contour->findOrCreateSequenceItem(DCM_ContourImageSequence, image, 0);
        image->putAndInsertString(DCM_ReferencedSOPClassUID, image_class);
        image->putAndInsertString(DCM_ReferencedSOPInstanceUID, image_instance);
        if (image_frame > 0) image->putAndInsertString(DCM_ReferencedFrameNumber, std::to_string(image_frame).c_str());
        contour->putAndInsertString(DCM_ContourGeometricType, "CLOSED_PLANAR");
        contour->putAndInsertString(DCM_NumberOfContourPoints, std::to_string(count).c_str());
        std::string data;
        data.reserve(count * 3 * 10);
        for (uint32_t i = 0; i < 3 * count; i++) {
            if (i > 0) data += '\\';
            data += decimal(points[i]);
        }
        return contour->putAndInsertString(DCM_ContourData, data.c_str()).good() ? 0 : 1;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_rt_write(vf_rt *rt, const char *path, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmDataset *ds = rt->file.getDataset();
        DcmItem *frame = nullptr, *study = nullptr, *series = nullptr, *image = nullptr;
        ds->findOrCreateSequenceItem(DCM_ReferencedFrameOfReferenceSequence, frame, 0);
        frame->putAndInsertString(DCM_FrameOfReferenceUID, rt->frameOfReference.c_str());
        frame->findOrCreateSequenceItem(DCM_RTReferencedStudySequence, study, 0);
        study->putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1");  // Study Component Management
        study->putAndInsertString(DCM_ReferencedSOPInstanceUID, rt->studyUID.c_str());
        study->findOrCreateSequenceItem(DCM_RTReferencedSeriesSequence, series, 0);
        series->putAndInsertString(DCM_SeriesInstanceUID, rt->seriesUID.c_str());
        for (const auto &i : rt->images) {
            series->findOrCreateSequenceItem(DCM_ContourImageSequence, image, -2);
            image->putAndInsertString(DCM_ReferencedSOPClassUID, i.first.c_str());
            image->putAndInsertString(DCM_ReferencedSOPInstanceUID, i.second.c_str());
        }
        if (!ds->tagExists(DCM_StructureSetROISequence)) {
            setErr(err, errlen, "the structure set has no ROI");
            return 1;
        }
        OFCondition status = rt->file.saveFile(path, EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL, EPD_noChange);
        if (status.bad()) {
            setErr(err, errlen, status.text());
            return 1;
        }
        return 0;
    });
}

// ---- Reading ---------------------------------------------------------------------------------------------

extern "C" int vf_rt_read_info(vf_dicom_file *file, vf_rt_info *out, char *err, size_t errlen) {
    std::memset(out, 0, sizeof(*out));
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmDataset *ds = file->format.getDataset();
        copyString(*ds, DCM_SOPClassUID, out->sop_class_uid, sizeof(out->sop_class_uid));
        DcmItem *frame = nullptr;
        if (ds->findAndGetSequenceItem(DCM_ReferencedFrameOfReferenceSequence, frame, 0).good() && frame != nullptr) {
            copyString(*frame, DCM_FrameOfReferenceUID, out->frame_of_reference_uid, sizeof(out->frame_of_reference_uid));
            DcmItem *study = nullptr, *series = nullptr;
            if (frame->findAndGetSequenceItem(DCM_RTReferencedStudySequence, study, 0).good() && study != nullptr &&
                study->findAndGetSequenceItem(DCM_RTReferencedSeriesSequence, series, 0).good() && series != nullptr)
                copyString(*series, DCM_SeriesInstanceUID, out->referenced_series_uid, sizeof(out->referenced_series_uid));
        }
        DcmSequenceOfItems *rois = nullptr;
        if (ds->findAndGetSequence(DCM_StructureSetROISequence, rois).good() && rois != nullptr) out->rois = rois->card();
        return 0;
    });
}

namespace {
/// The ROIContourSequence item whose ReferencedROINumber is `number`, or nullptr.
DcmItem *contourItem(DcmDataset *ds, long number) {
    DcmSequenceOfItems *contours = nullptr;
    if (ds->findAndGetSequence(DCM_ROIContourSequence, contours).bad() || contours == nullptr) return nullptr;
    DcmObject *object = nullptr;
    while ((object = contours->nextInContainer(object)) != nullptr) {
        auto *item = static_cast<DcmItem *>(object);
        Sint32 referenced = 0;
        if (item != nullptr && item->findAndGetSint32(DCM_ReferencedROINumber, referenced).good() && referenced == number) return item;
    }
    return nullptr;
}
}  // namespace

extern "C" int vf_rt_read_roi(vf_dicom_file *file, uint32_t index, vf_rt_roi *out) {
    std::memset(out, 0, sizeof(*out));
    try {
        DcmDataset *ds = file->format.getDataset();
        DcmItem *roi = nullptr;
        if (ds->findAndGetSequenceItem(DCM_StructureSetROISequence, roi, static_cast<int>(index)).bad() || roi == nullptr) return 1;
        Sint32 number = 0;
        if (roi->findAndGetSint32(DCM_ROINumber, number).bad()) return 1;
        out->number = number;
        copyString(*roi, DCM_ROIName, out->name, sizeof(out->name));
        copyString(*roi, DCM_ReferencedFrameOfReferenceUID, out->frame_of_reference_uid, sizeof(out->frame_of_reference_uid));
        DcmItem *contour = contourItem(ds, number);
        if (contour != nullptr) {
            Sint32 c = 0;
            out->has_color = 1;
            for (unsigned long i = 0; i < 3 && out->has_color; i++) {
                out->has_color = contour->findAndGetSint32(DCM_ROIDisplayColor, c, i).good() ? 1 : 0;
                out->color[i] = c;
            }
            DcmSequenceOfItems *list = nullptr;
            if (contour->findAndGetSequence(DCM_ContourSequence, list).good() && list != nullptr) out->contours = list->card();
        }
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_rt_read_contours(vf_dicom_file *file, int32_t roi_number, vf_rt_contour_callback callback, void *context) {
    try {
        DcmItem *contour = contourItem(file->format.getDataset(), roi_number);
        if (contour == nullptr) return 0;
        DcmSequenceOfItems *list = nullptr;
        if (contour->findAndGetSequence(DCM_ContourSequence, list).bad() || list == nullptr) return 0;
        std::vector<double> points;
        DcmObject *object = nullptr;
        uint32_t index = 0;
        while ((object = list->nextInContainer(object)) != nullptr) {
            DcmItem *item = OFstatic_cast(DcmItem *, object);
            char type[32];
            copyString(*item, DCM_ContourGeometricType, type, sizeof(type));
            DcmElement *data = nullptr;
            points.clear();
            if (item->findAndGetElement(DCM_ContourData, data).good() && data != nullptr) {
                const unsigned long n = data->getVM();
                points.resize(n);
                for (unsigned long i = 0; i < n; i++) {
                    Float64 v = 0;
                    if (data->getFloat64(v, i).bad()) return 1;
                    points[i] = v;
                }
            }
            if (callback(context, index++, type, points.data(), static_cast<uint32_t>(points.size() / 3)) != 0) return 2;
        }
        return 0;
    } catch (...) {
        return 1;
    }
}
