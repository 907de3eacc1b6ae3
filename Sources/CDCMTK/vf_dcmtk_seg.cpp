// CDCMTK shim: builds DICOM Segmentation (SEG) objects with DCMTK's data dictionary and writer (see vf_dcmtk.h).
// The dataset is assembled attribute by attribute (PS3.3 A.51, Segmentation IOD) rather than through dcmseg,
// so that frames, segments and references are written exactly as VoxelFlow computed them.
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <string>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcuid.h>

struct vf_seg {
    DcmFileFormat file;
    DcmItem *perFrame = nullptr;  // collected frames, moved into the dataset when written
    std::vector<DcmItem *> frames;
    uint32_t frameCount = 0;
    uint16_t rows = 0, columns = 0;
    uint16_t bits = 1;  // 1 BINARY, 8 FRACTIONAL or LABELMAP, 16 LABELMAP with more than 255 segments
    std::string referencedSeries;
    std::vector<std::pair<std::string, std::string>> referenced;
    DcmPixelData *pixelData = nullptr;  // filled in place (vf_seg_pixels), moved into the dataset when written
    size_t pixelBytes = 0;
    ~vf_seg() {
        for (DcmItem *f : frames) delete f;
        delete pixelData;
    }
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

bool putCode(DcmItem &parent, const DcmTagKey &sequence, const char *scheme, const char *value, const char *meaning) {
    DcmItem *item = nullptr;
    if (parent.findOrCreateSequenceItem(sequence, item, -2).bad() || item == nullptr) return false;
    return item->putAndInsertString(DCM_CodeValue, value).good() &&
           item->putAndInsertString(DCM_CodingSchemeDesignator, scheme).good() &&
           item->putAndInsertString(DCM_CodeMeaning, meaning).good();
}


}  // namespace

extern "C" vf_seg *vf_seg_create(const char *source_file, const char *segmentation_type, uint16_t bits_allocated, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<vf_seg *>(nullptr), [&]() -> vf_seg * {
        DcmFileFormat source;
        OFCondition status = source.loadFileUntilTag(source_file, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData);
        if (status.bad()) {
            setErr(err, errlen, std::string("cannot read the source file: ") + status.text());
            return nullptr;
        }
        DcmDataset *src = source.getDataset();
        OFString frameOfReference;
        if (src->findAndGetOFString(DCM_FrameOfReferenceUID, frameOfReference).bad() || frameOfReference.empty()) {
            setErr(err, errlen, "the source series has no FrameOfReferenceUID, so a viewer could not place a segmentation on it");
            return nullptr;
        }
        const std::string type = segmentation_type;
        const bool labelMap = type == "LABELMAP";
        if (!((type == "BINARY" && bits_allocated == 1) || (type == "FRACTIONAL" && bits_allocated == 8) ||
              (labelMap && (bits_allocated == 8 || bits_allocated == 16)))) {
            setErr(err, errlen, "unsupported segmentation type " + type + " with " + std::to_string(bits_allocated) + " bits");
            return nullptr;
        }
        auto *seg = new vf_seg();
        seg->bits = bits_allocated;
        DcmDataset *ds = seg->file.getDataset();
        vf_copy_patient_study(*src, *ds);
        OFString seriesUID;
        if (src->findAndGetOFString(DCM_SeriesInstanceUID, seriesUID).good()) seg->referencedSeries = seriesUID.c_str();
        // Fixed attributes of a segmentation written by VoxelFlow.
        char date[9], time[7];
        vf_utc_now(date, time);
        ds->putAndInsertString(DCM_SOPClassUID, labelMap ? "1.2.840.10008.5.1.4.1.1.66.7" : UID_SegmentationStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID, newUID().c_str());
        ds->putAndInsertString(DCM_SeriesInstanceUID, newUID().c_str());
        ds->putAndInsertString(DCM_Modality, "SEG");
        ds->putAndInsertString(DCM_SeriesNumber, "300");
        ds->putAndInsertString(DCM_InstanceNumber, "1");
        ds->putAndInsertString(DCM_ContentDate, date);
        ds->putAndInsertString(DCM_ContentTime, time);
        ds->putAndInsertString(DCM_SeriesDate, date);
        ds->putAndInsertString(DCM_SeriesTime, time);
        ds->putAndInsertString(DCM_Manufacturer, "VoxelFlow");
        ds->putAndInsertString(DCM_ManufacturerModelName, "voxelflow");
        ds->putAndInsertString(DCM_DeviceSerialNumber, "1");
        ds->putAndInsertString(DCM_SoftwareVersions, "voxelflow");
        ds->putAndInsertString(DCM_ImageType, "DERIVED\\PRIMARY");
        ds->putAndInsertString(DCM_ContentLabel, "SEGMENTATION");
        ds->putAndInsertString(DCM_ContentDescription, "");
        ds->insertEmptyElement(DCM_ContentCreatorName);
        ds->putAndInsertString(DCM_SegmentationType, type.c_str());
        if (type == "FRACTIONAL") {
            ds->putAndInsertString(DCM_SegmentationFractionalType, "PROBABILITY");
            ds->putAndInsertUint16(DCM_MaximumFractionalValue, 255);
        }
        if (type != "FRACTIONAL") ds->putAndInsertString(DCM_SegmentsOverlap, "NO");
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        ds->putAndInsertUint16(DCM_BitsAllocated, bits_allocated);
        ds->putAndInsertUint16(DCM_BitsStored, bits_allocated);
        ds->putAndInsertUint16(DCM_HighBit, bits_allocated - 1);
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
        ds->putAndInsertString(DCM_LossyImageCompression, "00");
        ds->putAndInsertString(DCM_BurnedInAnnotation, "NO");
        // Dimensions: segment number (not in a label map, whose frames hold every segment), then position
        // (PS3.3 C.7.6.17).
        std::string organization = newUID();
        DcmItem *item = nullptr;
        ds->findOrCreateSequenceItem(DCM_DimensionOrganizationSequence, item, -2);
        item->putAndInsertString(DCM_DimensionOrganizationUID, organization.c_str());
        if (!labelMap) {
            ds->findOrCreateSequenceItem(DCM_DimensionIndexSequence, item, -2);
            item->putAndInsertString(DCM_DimensionOrganizationUID, organization.c_str());
            item->putAndInsertTagKey(DCM_DimensionIndexPointer, DCM_ReferencedSegmentNumber);
            item->putAndInsertTagKey(DCM_FunctionalGroupPointer, DCM_SegmentIdentificationSequence);
            item->putAndInsertString(DCM_DimensionDescriptionLabel, "ReferencedSegmentNumber");
        }
        ds->findOrCreateSequenceItem(DCM_DimensionIndexSequence, item, -2);
        item->putAndInsertString(DCM_DimensionOrganizationUID, organization.c_str());
        item->putAndInsertTagKey(DCM_DimensionIndexPointer, DCM_ImagePositionPatient);
        item->putAndInsertTagKey(DCM_FunctionalGroupPointer, DCM_PlanePositionSequence);
        item->putAndInsertString(DCM_DimensionDescriptionLabel, "ImagePositionPatient");
        return seg;
    });
}

extern "C" void vf_seg_free(vf_seg *seg) { delete seg; }

extern "C" int vf_seg_set_string(vf_seg *seg, uint16_t group, uint16_t element, const char *value) {
    try {
        return seg->file.getDataset()->putAndInsertString(DcmTagKey(group, element), value).good() ? 0 : 1;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_seg_add_segment(vf_seg *seg, uint16_t number, const char *label, const char *algorithm_type, const char *algorithm_name,
                                  const char *category_scheme, const char *category_value, const char *category_meaning,
                                  const char *type_scheme, const char *type_value, const char *type_meaning,
                                  const char *region_scheme, const char *region_value, const char *region_meaning,
                                  uint16_t cielab_l, uint16_t cielab_a, uint16_t cielab_b) {
    try {
        DcmItem *item = nullptr;
        if (seg->file.getDataset()->findOrCreateSequenceItem(DCM_SegmentSequence, item, -2).bad() || item == nullptr) return 1;
        bool ok = item->putAndInsertUint16(DCM_SegmentNumber, number).good() &&
                  item->putAndInsertString(DCM_SegmentLabel, label).good() &&
                  item->putAndInsertString(DCM_SegmentAlgorithmType, algorithm_type).good() &&
                  putCode(*item, DCM_SegmentedPropertyCategoryCodeSequence, category_scheme, category_value, category_meaning) &&
                  putCode(*item, DCM_SegmentedPropertyTypeCodeSequence, type_scheme, type_value, type_meaning);
        if (ok && number != 0 && std::strcmp(algorithm_type, "MANUAL") != 0) ok = item->putAndInsertString(DCM_SegmentAlgorithmName, algorithm_name).good();
        if (ok && region_scheme[0] != 0) ok = putCode(*item, DCM_AnatomicRegionSequence, region_scheme, region_value, region_meaning);
        const Uint16 lab[3] = {cielab_l, cielab_a, cielab_b};
        if (ok) ok = item->putAndInsertUint16Array(DCM_RecommendedDisplayCIELabValue, lab, 3).good();
        return ok ? 0 : 1;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_seg_set_geometry(vf_seg *seg, uint16_t rows, uint16_t columns, const char *orientation, const char *pixel_spacing,
                                   const char *slice_thickness, const char *spacing_between_slices) {
    try {
        DcmDataset *ds = seg->file.getDataset();
        seg->rows = rows;
        seg->columns = columns;
        ds->putAndInsertUint16(DCM_Rows, rows);
        ds->putAndInsertUint16(DCM_Columns, columns);
        DcmItem *shared = nullptr, *item = nullptr;
        if (ds->findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).bad() || shared == nullptr) return 1;
        shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, item, 0);
        item->putAndInsertString(DCM_ImageOrientationPatient, orientation);
        shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, item, 0);
        item->putAndInsertString(DCM_PixelSpacing, pixel_spacing);
        if (slice_thickness[0] != 0) item->putAndInsertString(DCM_SliceThickness, slice_thickness);
        if (spacing_between_slices[0] != 0) item->putAndInsertString(DCM_SpacingBetweenSlices, spacing_between_slices);
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_seg_add_referenced_instance(vf_seg *seg, const char *series_uid, const char *class_uid, const char *instance_uid) {
    try {
        seg->referencedSeries = series_uid;
        seg->referenced.emplace_back(class_uid, instance_uid);
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_seg_add_frame(vf_seg *seg, uint16_t segment, const char *position, const char *source_class, const char *source_instance,
                                int32_t source_frame, uint32_t position_index) {
    try {
        auto *frame = new DcmItem(DCM_Item);
        seg->frames.push_back(frame);
        DcmItem *item = nullptr, *source = nullptr;
        // Derivation: this frame was made from that source image.
        frame->findOrCreateSequenceItem(DCM_DerivationImageSequence, item, 0);
        putCode(*item, DCM_DerivationCodeSequence, "DCM", "113076", "Segmentation");
        item->findOrCreateSequenceItem(DCM_SourceImageSequence, source, 0);
        source->putAndInsertString(DCM_ReferencedSOPClassUID, source_class);
        source->putAndInsertString(DCM_ReferencedSOPInstanceUID, source_instance);
        if (source_frame > 0) source->putAndInsertString(DCM_ReferencedFrameNumber, std::to_string(source_frame).c_str());
        // The frame lies exactly on its source image (same grid), which is what lets viewers index by it.
        source->putAndInsertString(DCM_SpatialLocationsPreserved, "YES");
        putCode(*source, DCM_PurposeOfReferenceCodeSequence, "DCM", "121322", "Source image for image processing operation");
        frame->findOrCreateSequenceItem(DCM_FrameContentSequence, item, 0);
        const Uint32 index[2] = {segment, position_index};
        if (segment == 0) item->putAndInsertUint32Array(DCM_DimensionIndexValues, index + 1, 1);
        else item->putAndInsertUint32Array(DCM_DimensionIndexValues, index, 2);
        frame->findOrCreateSequenceItem(DCM_PlanePositionSequence, item, 0);
        item->putAndInsertString(DCM_ImagePositionPatient, position);
        if (segment != 0) {
            frame->findOrCreateSequenceItem(DCM_SegmentIdentificationSequence, item, 0);
            item->putAndInsertUint16(DCM_ReferencedSegmentNumber, segment);
        }
        seg->frameCount++;
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" uint8_t *vf_seg_pixels(vf_seg *seg, size_t nbytes) {
    try {
        delete seg->pixelData;
        seg->pixelData = nullptr;
        seg->pixelBytes = 0;
        // An even length; OB for 1- and 8-bit data, OW (host order, written little endian) for 16.
        size_t even = nbytes + (nbytes % 2);
        auto *pixelData = new DcmPixelData(DCM_PixelData);
        uint8_t *buffer = nullptr;
        if (seg->bits == 16) {
            pixelData->setVR(EVR_OW);
            Uint16 *words = nullptr;
            if (pixelData->createUint16Array(static_cast<Uint32>(even / 2), words).good()) buffer = reinterpret_cast<uint8_t *>(words);
        } else {
            pixelData->setVR(EVR_OB);
            Uint8 *bytes = nullptr;
            if (pixelData->createUint8Array(static_cast<Uint32>(even), bytes).good()) buffer = bytes;
        }
        if (buffer == nullptr) {
            delete pixelData;
            return nullptr;
        }
        std::memset(buffer, 0, even);
        seg->pixelData = pixelData;
        seg->pixelBytes = nbytes;
        return buffer;
    } catch (...) {
        return nullptr;
    }
}

extern "C" int vf_seg_write(vf_seg *seg, const char *path, const uint8_t *pixels, size_t nbytes, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmDataset *ds = seg->file.getDataset();
        uint64_t bits = static_cast<uint64_t>(seg->frameCount) * seg->rows * seg->columns * seg->bits;
        if (pixels == nullptr) nbytes = seg->pixelBytes;
        if (nbytes != (bits + 7) / 8 || (pixels == nullptr && seg->pixelData == nullptr)) {
            setErr(err, errlen, "pixel data holds " + std::to_string(nbytes) + " bytes, the frames need " + std::to_string((bits + 7) / 8));
            return 1;
        }
        if (seg->frameCount == 0) {
            setErr(err, errlen, "the segmentation has no frame (every segment is empty)");
            return 1;
        }
        ds->putAndInsertString(DCM_NumberOfFrames, std::to_string(seg->frameCount).c_str());
        auto *perFrame = new DcmSequenceOfItems(DCM_PerFrameFunctionalGroupsSequence);
        for (DcmItem *f : seg->frames) perFrame->insert(f);
        seg->frames.clear();
        ds->insert(perFrame, OFTrue);
        DcmItem *series = nullptr, *instance = nullptr;
        ds->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, series, 0);
        series->putAndInsertString(DCM_SeriesInstanceUID, seg->referencedSeries.c_str());
        for (const auto &r : seg->referenced) {
            series->findOrCreateSequenceItem(DCM_ReferencedInstanceSequence, instance, -2);
            instance->putAndInsertString(DCM_ReferencedSOPClassUID, r.first.c_str());
            instance->putAndInsertString(DCM_ReferencedSOPInstanceUID, r.second.c_str());
        }
        if (pixels != nullptr) {
            uint8_t *buffer = vf_seg_pixels(seg, nbytes);
            if (buffer == nullptr) {
                setErr(err, errlen, "cannot allocate " + std::to_string(nbytes) + " bytes of pixel data");
                return 1;
            }
            std::memcpy(buffer, pixels, nbytes);
        }
        ds->insert(seg->pixelData, OFTrue);
        seg->pixelData = nullptr;
        OFCondition status = seg->file.saveFile(path, EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL, EPD_noChange);
        if (status.bad()) {
            setErr(err, errlen, status.text());
            return 1;
        }
        return 0;
    });
}
