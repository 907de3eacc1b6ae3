/* CDCMTK: a C interface over DCMTK (C++) for VoxelIO.
 * Why it exists: Swift never sees a C++ type. Every entry point catches C++ exceptions and turns
 * DCMTK's OFCondition into a status code plus message. Functions are reentrant (no shared state). */
#ifndef VF_DCMTK_H
#define VF_DCMTK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Header attributes of one DICOM file, read without loading pixel data.
 *  Strings are NUL-terminated and truncated to their buffer; `has_*` flags say whether a tag was present
 *  (DCMTK's getters write 0 for a missing tag, so presence is reported separately). */
typedef struct {
    char transfer_syntax_uid[65];
    char transfer_syntax_name[96];
    char sop_class_uid[65];
    char sop_instance_uid[65];
    char study_instance_uid[65];
    char series_instance_uid[65];
    char modality[17];
    char series_description[65];
    int32_t series_number;      int has_series_number;
    int32_t instance_number;    int has_instance_number;
    uint16_t rows, columns;
    int32_t number_of_frames;   /**< 1 when absent */
    uint16_t bits_allocated, bits_stored, high_bit, pixel_representation, samples_per_pixel;
    char photometric_interpretation[17];
    double image_position[3];     int has_image_position;
    double image_orientation[6];  int has_image_orientation;
    double pixel_spacing[2];      int has_pixel_spacing;
    double slice_thickness;       int has_slice_thickness;
    double rescale_slope;         int has_rescale_slope;
    double rescale_intercept;     int has_rescale_intercept;
} vf_dicom_summary;

/** Reads the header of `path` up to (not including) the pixel data.
 *  Returns 0 on success; otherwise non-zero with DCMTK's message in `err`. */
int vf_dicom_read_summary(const char *path, vf_dicom_summary *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
