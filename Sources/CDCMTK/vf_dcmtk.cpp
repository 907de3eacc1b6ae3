// CDCMTK shim: reads DICOM headers with DCMTK behind a C interface (see vf_dcmtk.h).
#include "vf_dcmtk.h"
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <cstring>
#include <exception>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace {

void setErr(char *err, size_t errlen, const char *msg) {
    if (err != nullptr && errlen > 0) {
        std::snprintf(err, errlen, "%s", msg);
    }
}

/// Copies a string attribute into `dst`; returns 1 when it did not fit (it is then truncated).
int copyString(DcmItem &item, const DcmTagKey &key, char *dst, size_t cap) {
    OFString value;
    dst[0] = 0;
    if (item.findAndGetOFString(key, value).good()) {
        std::snprintf(dst, cap, "%s", value.c_str());
        return value.length() >= cap ? 1 : 0;
    }
    return 0;
}

int getFloats(DcmItem &item, const DcmTagKey &key, double *dst, int count) {
    for (int i = 0; i < count; i++) {
        Float64 v = 0;
        if (item.findAndGetFloat64(key, v, static_cast<unsigned long>(i)).bad()) {
            return 0;
        }
        dst[i] = v;
    }
    return 1;
}

int getInt(DcmItem &item, const DcmTagKey &key, int32_t *dst) {
    Sint32 v = 0;
    if (item.findAndGetSint32(key, v).bad()) {
        // Integer strings (IS) are read through the string getter when the numeric one refuses.
        OFString s;
        if (item.findAndGetOFString(key, s).bad() || s.empty()) {
            return 0;
        }
        long parsed = 0;
        if (std::sscanf(s.c_str(), "%ld", &parsed) != 1) {
            return 0;
        }
        v = static_cast<Sint32>(parsed);
    }
    *dst = v;
    return 1;
}

/// Every item of the CSA header element `name`, in order (empty items kept as empty strings, trailing empty
/// ones dropped). Every offset is checked against the buffer.
std::vector<std::string> csaItems(const Uint8 *data, Uint32 length, const char *name) {
    std::vector<std::string> values;
    auto u32 = [&](size_t at) -> uint32_t {
        uint32_t v = 0;
        if (at + 4 <= length) std::memcpy(&v, data + at, 4);
        return v;
    };
    if (length < 16 || std::memcmp(data, "SV10", 4) != 0) return values;
    uint32_t tags = u32(8);
    size_t pos = 16;
    for (uint32_t t = 0; t < tags && t < 1000 && pos + 84 <= length; t++) {
        char tagName[65];
        std::memcpy(tagName, data + pos, 64);
        tagName[64] = 0;
        uint32_t items = u32(pos + 76);
        pos += 84;
        bool wanted = std::strcmp(tagName, name) == 0;
        for (uint32_t i = 0; i < items && i < 10000; i++) {
            if (pos + 16 > length) return values;
            uint32_t itemLength = u32(pos + 4);
            pos += 16;
            if (itemLength > length - pos) return values;
            if (wanted) {
                std::string value(reinterpret_cast<const char *>(data + pos), itemLength);
                while (!value.empty() && (value.back() == '\0' || value.back() == ' ')) value.pop_back();
                values.push_back(value);
            }
            pos += (itemLength + 3) & ~3u;
        }
        if (wanted) break;
    }
    while (!values.empty() && values.back().empty()) values.pop_back();
    return values;
}

/// Item `item` of the CSA header element `name`, or an empty string.
std::string csaItem(const Uint8 *data, Uint32 length, const char *name, int item) {
    std::vector<std::string> items = csaItems(data, length, name);
    return item >= 0 && static_cast<size_t>(item) < items.size() ? items[static_cast<size_t>(item)] : std::string();
}

/// The CSA image header's bytes (element 0x10 of the "SIEMENS CSA HEADER" block), or nullptr. One pass over
/// the dataset's group 0x0029 (elements are kept in tag order), so files without it cost almost nothing.
const Uint8 *csaImageHeader(DcmItem &ds, unsigned long *length) {
    DcmObject *obj = nullptr;
    while ((obj = ds.nextInContainer(obj)) != nullptr) {
        const DcmTag &tag = obj->getTag();
        if (tag.getGroup() < 0x0029) continue;
        if (tag.getGroup() > 0x0029 || tag.getElement() > 0x00ff) break;
        if (tag.getElement() < 0x0010) continue;
        OFString creator;
        DcmElement *element = dynamic_cast<DcmElement *>(obj);
        if (element == nullptr || element->getOFString(creator, 0).bad() || creator != "SIEMENS CSA HEADER") continue;
        const Uint8 *data = nullptr;
        Uint16 block = tag.getElement();
        if (ds.findAndGetUint8Array(DcmTagKey(0x0029, static_cast<Uint16>((block << 8) | 0x10)), data, length).bad()) return nullptr;
        return data;
    }
    return nullptr;
}

/// MOSAIC attributes from the CSA image header.
void readMosaic(const Uint8 *data, unsigned long length, vf_dicom_summary *out) {
    if (data == nullptr) return;
    std::string n = csaItem(data, static_cast<Uint32>(length), "NumberOfImagesInMosaic", 0);
    if (!n.empty()) out->mosaic_images = std::atoi(n.c_str());
    int found = 0;
    for (int c = 0; c < 3; c++) {
        std::string v = csaItem(data, static_cast<Uint32>(length), "SliceNormalVector", c);
        if (!v.empty()) { out->csa_slice_normal[c] = std::atof(v.c_str()); found++; }
    }
    out->has_csa_slice_normal = found == 3;
}

/// Diffusion weighting from the standard attributes, else from the CSA image header.
void readDiffusion(DcmItem &ds, const Uint8 *csa, unsigned long length, vf_dicom_summary *out) {
    out->has_diffusion_b_value = getFloats(ds, DCM_DiffusionBValue, &out->diffusion_b_value, 1);
    out->has_diffusion_gradient = getFloats(ds, DCM_DiffusionGradientOrientation, out->diffusion_gradient, 3);
    if (out->has_diffusion_b_value && out->has_diffusion_gradient) return;
    if (csa == nullptr) return;
    if (!out->has_diffusion_b_value) {
        std::string b = csaItem(csa, static_cast<Uint32>(length), "B_value", 0);
        if (!b.empty()) { out->diffusion_b_value = std::atof(b.c_str()); out->has_diffusion_b_value = 1; }
    }
    if (!out->has_diffusion_gradient) {
        std::vector<std::string> g = csaItems(csa, static_cast<Uint32>(length), "DiffusionGradientDirection");
        if (g.size() == 3) {
            for (int c = 0; c < 3; c++) out->diffusion_gradient[c] = std::atof(g[c].c_str());
            out->has_diffusion_gradient = 1;
        }
    }
}

// DCMTK logs warnings to the console by default; VoxelFlow reports problems itself.
void quietLogging() {
    static std::once_flag once;
    std::call_once(once, [] { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); });
}

/// Loads the file at `path` up to (not including) the pixel data; false with DCMTK's message in `err`.
bool loadHeader(const char *path, DcmFileFormat &file, char *err, size_t errlen) {
    quietLogging();
    OFCondition status = file.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                               ERM_autoDetect, DCM_PixelData);
    if (status.bad()) {
        setErr(err, errlen, status.text());
        return false;
    }
    return true;
}

}  // namespace

extern "C" int vf_dicom_read_summary(const char *path, vf_dicom_summary *out, char *err, size_t errlen) {
    std::memset(out, 0, sizeof(*out));
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmFileFormat file;
        if (!loadHeader(path, file, err, errlen)) return 1;
        return vf_fill_summary(file, out, err, errlen);
    });
}

extern "C" int vf_dicom_sop_class(const char *path, char *out, size_t outlen) {
    if (outlen > 0) out[0] = 0;
    try {
        quietLogging();
        DcmFileFormat file;
        // SOPClassUID (0008,0016) is read; parsing stops at SOPInstanceUID, the element after it.
        if (file.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_SOPInstanceUID).bad()) return 1;
        OFString uid;
        if (file.getDataset()->findAndGetOFString(DCM_SOPClassUID, uid).bad() || uid.empty()) {
            if (file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, uid).bad()) uid.clear();
        }
        std::snprintf(out, outlen, "%s", uid.c_str());
        return 0;
    } catch (...) {
        return 2;
    }
}

int vf_fill_summary(DcmFileFormat &file, vf_dicom_summary *out, char *err, size_t errlen) {
    std::memset(out, 0, sizeof(*out));
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmDataset *ds = file.getDataset();
        DcmMetaInfo *meta = file.getMetaInfo();
        if (ds == nullptr) {
            setErr(err, errlen, "no dataset");
            return 1;
        }
        OFString tsuid;
        if (meta != nullptr && meta->findAndGetOFString(DCM_TransferSyntaxUID, tsuid).good()) {
            std::snprintf(out->transfer_syntax_uid, sizeof(out->transfer_syntax_uid), "%s", tsuid.c_str());
        }
        DcmXfer xfer(ds->getOriginalXfer());
        std::snprintf(out->transfer_syntax_name, sizeof(out->transfer_syntax_name), "%s", xfer.getXferName());
        if (out->transfer_syntax_uid[0] == 0) {
            std::snprintf(out->transfer_syntax_uid, sizeof(out->transfer_syntax_uid), "%s", xfer.getXferID());
        }
        out->identifier_too_long |= copyString(*ds, DCM_SOPClassUID, out->sop_class_uid, sizeof(out->sop_class_uid));
        out->identifier_too_long |= copyString(*ds, DCM_SOPInstanceUID, out->sop_instance_uid, sizeof(out->sop_instance_uid));
        out->identifier_too_long |= copyString(*ds, DCM_StudyInstanceUID, out->study_instance_uid, sizeof(out->study_instance_uid));
        out->identifier_too_long |= copyString(*ds, DCM_SeriesInstanceUID, out->series_instance_uid, sizeof(out->series_instance_uid));
        out->identifier_too_long |= copyString(*ds, DCM_FrameOfReferenceUID, out->frame_of_reference_uid, sizeof(out->frame_of_reference_uid));
        copyString(*ds, DCM_Modality, out->modality, sizeof(out->modality));
        copyString(*ds, DCM_SeriesDescription, out->series_description, sizeof(out->series_description));
        copyString(*ds, DCM_PhotometricInterpretation, out->photometric_interpretation,
                   sizeof(out->photometric_interpretation));
        out->has_series_number = getInt(*ds, DCM_SeriesNumber, &out->series_number);
        out->has_instance_number = getInt(*ds, DCM_InstanceNumber, &out->instance_number);
        ds->findAndGetUint16(DCM_Rows, out->rows);
        ds->findAndGetUint16(DCM_Columns, out->columns);
        out->number_of_frames = 1;
        int32_t frames = 0;
        if (getInt(*ds, DCM_NumberOfFrames, &frames) && frames > 0) {
            out->number_of_frames = frames;
        }
        ds->findAndGetUint16(DCM_BitsAllocated, out->bits_allocated);
        ds->findAndGetUint16(DCM_BitsStored, out->bits_stored);
        ds->findAndGetUint16(DCM_HighBit, out->high_bit);
        ds->findAndGetUint16(DCM_PixelRepresentation, out->pixel_representation);
        out->samples_per_pixel = 1;
        ds->findAndGetUint16(DCM_SamplesPerPixel, out->samples_per_pixel);
        out->has_image_position = getFloats(*ds, DCM_ImagePositionPatient, out->image_position, 3);
        out->has_image_orientation = getFloats(*ds, DCM_ImageOrientationPatient, out->image_orientation, 6);
        out->has_pixel_spacing = getFloats(*ds, DCM_PixelSpacing, out->pixel_spacing, 2);
        out->has_slice_thickness = getFloats(*ds, DCM_SliceThickness, &out->slice_thickness, 1);
        out->identifier_too_long |= copyString(*ds, DCM_PatientID, out->patient_id, sizeof(out->patient_id));
        copyString(*ds, DCM_StudyDate, out->study_date, sizeof(out->study_date));
        copyString(*ds, DCM_StudyDescription, out->study_description, sizeof(out->study_description));
        copyString(*ds, DCM_RescaleType, out->rescale_type, sizeof(out->rescale_type));
        copyString(*ds, DCM_ProtocolName, out->protocol_name, sizeof(out->protocol_name));
        copyString(*ds, DCM_BodyPartExamined, out->body_part_examined, sizeof(out->body_part_examined));
        {
            OFString all;
            if (ds->findAndGetOFStringArray(DCM_ImageType, all).good()) {
                std::snprintf(out->image_type, sizeof(out->image_type), "%s", all.c_str());
            }
        }
        out->has_echo_number = getInt(*ds, DCM_EchoNumbers, &out->echo_number);
        out->has_temporal_position = getInt(*ds, DCM_TemporalPositionIdentifier, &out->temporal_position);
        out->has_acquisition_number = getInt(*ds, DCM_AcquisitionNumber, &out->acquisition_number);
        out->has_spacing_between_slices = getFloats(*ds, DCM_SpacingBetweenSlices, &out->spacing_between_slices, 1);
        out->has_gantry_tilt = getFloats(*ds, DCM_GantryDetectorTilt, &out->gantry_tilt, 1);
        unsigned long csaLength = 0;
        const Uint8 *csa = csaImageHeader(*ds, &csaLength);  // found once, read by both
        readMosaic(csa, csaLength, out);
        out->has_repetition_time = getFloats(*ds, DCM_RepetitionTime, &out->repetition_time, 1);
        readDiffusion(*ds, csa, csaLength, out);
        copyString(*ds, DCM_Units, out->units, sizeof(out->units));
        out->has_patient_weight = getFloats(*ds, DCM_PatientWeight, &out->patient_weight, 1);
        copyString(*ds, DCM_SeriesDate, out->series_date, sizeof(out->series_date));
        copyString(*ds, DCM_SeriesTime, out->series_time, sizeof(out->series_time));
        copyString(*ds, DCM_DecayCorrection, out->decay_correction, sizeof(out->decay_correction));
        DcmItem *rp = nullptr;
        if (ds->findAndGetSequenceItem(DCM_RadiopharmaceuticalInformationSequence, rp, 0).good() && rp != nullptr) {
            out->has_radionuclide_total_dose = getFloats(*rp, DCM_RadionuclideTotalDose, &out->radionuclide_total_dose, 1);
            out->has_radionuclide_half_life = getFloats(*rp, DCM_RadionuclideHalfLife, &out->radionuclide_half_life, 1);
            copyString(*rp, DCM_RadiopharmaceuticalStartTime, out->radiopharmaceutical_start_time,
                       sizeof(out->radiopharmaceutical_start_time));
            copyString(*rp, DCM_RadiopharmaceuticalStartDateTime, out->radiopharmaceutical_start_datetime,
                       sizeof(out->radiopharmaceutical_start_datetime));
        }
        out->has_meta_header = (meta != nullptr && meta->tagExists(DCM_TransferSyntaxUID)) ? 1 : 0;
        out->has_pixel_attributes = (ds->tagExists(DCM_Rows) && ds->tagExists(DCM_Columns) && ds->tagExists(DCM_BitsAllocated)) ? 1 : 0;
        out->has_rescale_slope = getFloats(*ds, DCM_RescaleSlope, &out->rescale_slope, 1);
        out->has_rescale_intercept = getFloats(*ds, DCM_RescaleIntercept, &out->rescale_intercept, 1);
        if (!out->has_rescale_slope) out->rescale_slope = 1.0;
        if (!out->has_rescale_intercept) out->rescale_intercept = 0.0;
        return 0;
    });
}

extern "C" int vf_dicom_file_summary(vf_dicom_file *file, vf_dicom_summary *out, char *err, size_t errlen) {
    return vf_fill_summary(file->format, out, err, errlen);
}

namespace {

/// Finds the first item of `sequence` inside `group` (an item of a functional groups sequence).
DcmItem *firstItem(DcmItem *group, const DcmTagKey &sequence) {
    DcmItem *item = nullptr;
    if (group == nullptr || group->findAndGetSequenceItem(sequence, item, 0).bad()) return nullptr;
    return item;
}

/// Fills what `group` has; fields already set are kept (per-frame groups are read before shared ones).
void readGroup(DcmItem *group, vf_frame_geometry *out) {
    if (group == nullptr) return;
    DcmItem *pos = firstItem(group, DCM_PlanePositionSequence);
    if (!out->has_image_position && pos) out->has_image_position = getFloats(*pos, DCM_ImagePositionPatient, out->image_position, 3);
    DcmItem *orient = firstItem(group, DCM_PlaneOrientationSequence);
    if (!out->has_image_orientation && orient)
        out->has_image_orientation = getFloats(*orient, DCM_ImageOrientationPatient, out->image_orientation, 6);
    DcmItem *measures = firstItem(group, DCM_PixelMeasuresSequence);
    if (measures) {
        if (!out->has_pixel_spacing) out->has_pixel_spacing = getFloats(*measures, DCM_PixelSpacing, out->pixel_spacing, 2);
        if (!out->has_slice_thickness) out->has_slice_thickness = getFloats(*measures, DCM_SliceThickness, &out->slice_thickness, 1);
    }
    DcmItem *rescale = firstItem(group, DCM_PixelValueTransformationSequence);
    if (rescale) {
        if (!out->has_rescale_slope) out->has_rescale_slope = getFloats(*rescale, DCM_RescaleSlope, &out->rescale_slope, 1);
        if (!out->has_rescale_intercept) out->has_rescale_intercept = getFloats(*rescale, DCM_RescaleIntercept, &out->rescale_intercept, 1);
    }
    DcmItem *diffusion = firstItem(group, DCM_MRDiffusionSequence);
    if (diffusion) {
        if (!out->has_diffusion_b_value) out->has_diffusion_b_value = getFloats(*diffusion, DCM_DiffusionBValue, &out->diffusion_b_value, 1);
        DcmItem *gradient = firstItem(diffusion, DCM_DiffusionGradientDirectionSequence);
        if (!out->has_diffusion_gradient && gradient)
            out->has_diffusion_gradient = getFloats(*gradient, DCM_DiffusionGradientOrientation, out->diffusion_gradient, 3);
    }
    DcmItem *content = firstItem(group, DCM_FrameContentSequence);
    if (content && !out->has_temporal_position) {
        Uint32 v = 0;
        if (content->findAndGetUint32(DCM_TemporalPositionIndex, v).good() && v <= 0x7fffffffu) {
            out->temporal_position = static_cast<int32_t>(v);
            out->has_temporal_position = 1;
        }
    }
}

}  // namespace

extern "C" int vf_dicom_frame_geometry(vf_dicom_file *file, uint32_t frame, vf_frame_geometry *out) {
    std::memset(out, 0, sizeof(*out));
    try {
        DcmDataset *ds = file->format.getDataset();
        if (ds == nullptr) return 1;
        if (!file->perFrameIndexed) {
            file->perFrameIndexed = true;
            DcmSequenceOfItems *sequence = nullptr;
            if (ds->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, sequence).good() && sequence != nullptr) {
                DcmObject *item = nullptr;
                while ((item = sequence->nextInContainer(item)) != nullptr) {
                    file->perFrameItems.push_back(static_cast<DcmItem *>(item));
                }
            }
        }
        DcmItem *perFrame = frame < file->perFrameItems.size() ? file->perFrameItems[frame] : nullptr;
        DcmItem *shared = nullptr;
        ds->findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0);
        if (perFrame == nullptr && shared == nullptr) return 1;
        readGroup(perFrame, out);
        readGroup(shared, out);
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_dicom_read_attributes(const char *path, const uint32_t *tags, int tag_count,
                                        const char *const *csa_names, int csa_count, char *out, size_t capacity,
                                        char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<int>(1), [&]() -> int {
        DcmFileFormat file;
        if (!loadHeader(path, file, err, errlen)) return 1;
        DcmDataset *ds = file.getDataset();
        if (ds == nullptr) {
            setErr(err, errlen, "no dataset");
            return 1;
        }
        std::string all;
        for (int n = 0; n < tag_count; n++) {
            OFString value;
            DcmTagKey key(static_cast<Uint16>(tags[n] >> 16), static_cast<Uint16>(tags[n] & 0xffff));
            if (ds->findAndGetOFStringArray(key, value).good()) all += value.c_str();
            all.push_back('\0');
        }
        unsigned long length = 0;
        const Uint8 *csa = csaImageHeader(*ds, &length);
        for (int n = 0; n < csa_count; n++) {
            if (csa != nullptr) {
                std::vector<std::string> items = csaItems(csa, static_cast<Uint32>(length), csa_names[n]);
                for (size_t i = 0; i < items.size(); i++) {
                    if (i > 0) all.push_back('\\');
                    all += items[i];
                }
            }
            all.push_back('\0');
        }
        if (all.size() > capacity) {
            setErr(err, errlen, "attribute values longer than the buffer");
            return 2;
        }
        std::memcpy(out, all.data(), all.size());
        return 0;
    });
}

extern "C" int vf_dicomdir_files(const char *path, vf_dicomdir_callback callback, void *context, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<int>(1), [&]() -> int {
        quietLogging();
        DcmFileFormat file;
        OFCondition status = file.loadFile(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
        if (status.bad()) {
            setErr(err, errlen, status.text());
            return 1;
        }
        DcmDataset *ds = file.getDataset();
        DcmSequenceOfItems *records = nullptr;
        if (ds == nullptr || ds->findAndGetSequence(DCM_DirectoryRecordSequence, records).bad() || records == nullptr) {
            setErr(err, errlen, "no DirectoryRecordSequence (0004,1220): not a DICOMDIR");
            return 1;
        }
        unsigned long count = records->card();
        for (unsigned long n = 0; n < count; n++) {
            DcmItem *record = records->getItem(n);
            if (record == nullptr) continue;
            OFString id, type;
            if (record->findAndGetOFStringArray(DCM_ReferencedFileID, id).bad() || id.empty()) continue;
            record->findAndGetOFString(DCM_DirectoryRecordType, type);
            std::string joined(id.c_str());
            for (char &c : joined) if (c == '\\') c = '/';
            callback(context, joined.c_str(), type.c_str());
        }
        return 0;
    });
}
