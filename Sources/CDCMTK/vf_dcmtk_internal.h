// Internal declarations shared by the CDCMTK shim's C++ files. Not part of the C interface.
#ifndef VF_DCMTK_INTERNAL_H
#define VF_DCMTK_INTERNAL_H

#include <cstddef>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcpixel.h>

#include "vf_dcmtk.h"

#include <dcmtk/dcmdata/dcfilefo.h>

/// A loaded DICOM file (the opaque handle of the C interface).
struct vf_dicom_file {
    DcmFileFormat format;
    /// The items of PerFrameFunctionalGroupsSequence, indexed on first use: DCMTK finds item n by walking its
    /// list, so asking for every frame in turn would take quadratic time (minutes for 65,535 frames).
    std::vector<DcmItem *> perFrameItems;
    bool perFrameIndexed = false;
};

/// Fills a summary from a loaded file (shared by the header-only and the full readers).
int vf_fill_summary(DcmFileFormat &file, vf_dicom_summary *out, char *err, size_t errlen);

/// Decodes every JPEG 2000 frame of `pixels` with OpenJPEG into `dst` (frames * frame_bytes bytes),
/// samples interleaved, values in the DICOM pixel representation. Returns 0 or non-zero with `err`.
int vf_j2k_decode_frames(DcmPixelData *pixels, const vf_pixel_info &info, unsigned char *dst,
                         char *color_model, size_t color_len, char *err, size_t errlen);

/// Copies the patient, study and frame-of-reference attributes of a source image into a derived object,
/// writing the type 2 ones (and `extraEmpty`) empty when the source lacks them.
void vf_copy_patient_study(DcmItem &src, DcmItem &dst, std::initializer_list<DcmTagKey> extraEmpty = {});

/// The current UTC date (YYYYMMDD) and time (HHMMSS), NUL-terminated.
void vf_utc_now(char date[9], char time[7]);

/// Runs `body`, the work of a C interface function, and returns what it returns; a C++ exception becomes
/// `failure` with its message (or "unknown C++ exception in DCMTK") in `err`.
template <typename Result, typename Body>
Result vf_guarded(char *err, size_t errlen, Result failure, Body body) {
    const char *message = "unknown C++ exception in DCMTK";
    try {
        return body();
    } catch (const std::exception &e) {
        message = e.what();
        if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", message);
    } catch (...) {
        if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", message);
    }
    return failure;
}

#endif
