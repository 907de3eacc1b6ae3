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
 *  Strings are NUL-terminated and truncated to their buffer (identifiers hold 256 characters, four times
 *  what DICOM allows, and `identifier_too_long` reports a longer one); `has_*` flags say whether a tag was present
 *  (DCMTK's getters write 0 for a missing tag, so presence is reported separately). */
typedef struct {
    char transfer_syntax_uid[65];
    char transfer_syntax_name[96];
    char sop_class_uid[257];
    char sop_instance_uid[257];
    char study_instance_uid[257];
    char series_instance_uid[257];
    char frame_of_reference_uid[257];
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
    char patient_id[257];
    char study_date[17];
    char study_description[65];
    char image_type[129];
    char protocol_name[65];
    char body_part_examined[65];
    char rescale_type[17];
    int32_t echo_number;          int has_echo_number;
    int32_t temporal_position;    int has_temporal_position;
    int32_t acquisition_number;   int has_acquisition_number;
    double spacing_between_slices; int has_spacing_between_slices;
    double gantry_tilt;           int has_gantry_tilt;
    /* PET quantitation (SUV): Units, PatientWeight, SeriesDate/Time, DecayCorrection and the first item of
       RadiopharmaceuticalInformationSequence. */
    char units[17];
    double patient_weight;        int has_patient_weight;
    char series_date[17];
    char series_time[17];
    char decay_correction[17];
    double radionuclide_total_dose; int has_radionuclide_total_dose;
    double radionuclide_half_life;  int has_radionuclide_half_life;
    char radiopharmaceutical_start_time[17];
    char radiopharmaceutical_start_datetime[27];
    /* Siemens MOSAIC: from the CSA image header (0029,xx10) of a "SIEMENS CSA HEADER" private block. */
    int32_t mosaic_images;        /**< NumberOfImagesInMosaic; 0 when absent */
    double csa_slice_normal[3];   int has_csa_slice_normal;
    double repetition_time;       int has_repetition_time;  /**< RepetitionTime (0018,0080), ms */
    /* Diffusion weighting: DiffusionBValue (0018,9087) and DiffusionGradientOrientation (0018,9089), else the
       Siemens CSA B_value and DiffusionGradientDirection. */
    double diffusion_b_value;     int has_diffusion_b_value;
    double diffusion_gradient[3]; int has_diffusion_gradient;
    int has_meta_header;          /**< 1 when the file has the DICM preamble and meta header */
    int has_pixel_attributes;     /**< 1 when Rows, Columns and BitsAllocated are present */
    int identifier_too_long;      /**< 1 when a UID or PatientID did not fit its 256-character buffer (never
                                       truncated silently: two different long UIDs must not become one) */
} vf_dicom_summary;

/** Geometry, rescale, diffusion weighting and temporal position of one frame of a multi-frame (enhanced)
 *  image, from the per-frame functional group of that frame or, failing that, the shared functional groups. */
typedef struct {
    double image_position[3];     int has_image_position;
    double image_orientation[6];  int has_image_orientation;
    double pixel_spacing[2];      int has_pixel_spacing;
    double slice_thickness;       int has_slice_thickness;
    double rescale_slope;         int has_rescale_slope;
    double rescale_intercept;     int has_rescale_intercept;
    /* MR Diffusion Sequence: DiffusionBValue and the gradient's DiffusionGradientOrientation. */
    double diffusion_b_value;     int has_diffusion_b_value;
    double diffusion_gradient[3]; int has_diffusion_gradient;
    /* Frame Content Sequence: TemporalPositionIndex. */
    int32_t temporal_position;    int has_temporal_position;
} vf_frame_geometry;

/** Reads the header of `path` up to (not including) the pixel data.
 *  Returns 0 on success; otherwise non-zero with DCMTK's message in `err`. */
int vf_dicom_read_summary(const char *path, vf_dicom_summary *out, char *err, size_t errlen);

/** Pixel-data layout of a loaded DICOM file, as stored (before any decoding). */
typedef struct {
    uint32_t frames, rows, columns, samples_per_pixel;
    uint32_t bits_allocated, bits_stored, high_bit, pixel_representation, planar_configuration;
    uint64_t frame_bytes;           /**< bytes of one decoded frame (rows * columns * samples * bits_allocated / 8;
                                         1-bit data is delivered unpacked, one byte per sample; native
                                         YBR_FULL_422 as stored, 2 bytes per pixel) */
    int encapsulated;               /**< 1 when the pixel data is compressed (fragments) */
    int jpeg2000;                   /**< 1 when the transfer syntax is JPEG 2000 (decoded with OpenJPEG) */
    char photometric_interpretation[17];
    char transfer_syntax_uid[65];
} vf_pixel_info;

/** A DICOM file loaded into memory (dataset and pixel data). Owned by the caller; release with vf_dicom_close. */
typedef struct vf_dicom_file vf_dicom_file;

/** Loads the file — only up to the pixel data when `header_only` is non-zero (then vf_dicom_decode is not
 *  available). Returns NULL with a message in `err` on failure. */
vf_dicom_file *vf_dicom_open(const char *path, int header_only, char *err, size_t errlen);

/** Releases a file returned by vf_dicom_open (NULL is allowed). */
void vf_dicom_close(vf_dicom_file *file);

/** Reads the functional-group geometry of frame `frame` (0-based) of a loaded multi-frame file.
 *  Returns 0 when the file has functional groups (fields absent from both groups stay unset), 1 otherwise. */
int vf_dicom_frame_geometry(vf_dicom_file *file, uint32_t frame, vf_frame_geometry *out);

/** The SOP Class UID of the file at `path` (its SOPClassUID, else the meta header's MediaStorageSOPClassUID;
 *  empty when neither is there), reading no further than the element after it. Returns 0 when the file is DICOM. */
int vf_dicom_sop_class(const char *path, char *out, size_t outlen);

/** Fills `out` from a loaded file (same fields as vf_dicom_read_summary). Returns 0 on success. */
int vf_dicom_file_summary(vf_dicom_file *file, vf_dicom_summary *out, char *err, size_t errlen);

/** Describes the pixel data. Returns 0 on success, non-zero with `err` when there is none or it is inconsistent. */
int vf_dicom_pixel_info(vf_dicom_file *file, vf_pixel_info *out, char *err, size_t errlen);

/** Decodes every frame into `dst` (frames * frame_bytes bytes), frame after frame, each in host byte order
 *  with samples as the codec produced them. `color_model` receives the photometric interpretation of the
 *  decoded pixels (a JPEG decoder may turn YBR into RGB). Returns 0 on success, non-zero with `err`. */
int vf_dicom_decode(vf_dicom_file *file, void *dst, size_t dstlen, char *color_model, size_t color_len,
                    char *err, size_t errlen);

/** Native (uncompressed) pixel data with one sample per pixel, as loaded: 1-bit data packed least significant
 *  bit first, frame after frame without padding; 8-bit data as bytes; 16-bit data as words in host order.
 *  `*data` points into the loaded file (valid until it is closed), `*length` bytes. Returns 0, or non-zero with
 *  `err` for other data or data shorter than the frames need. */
int vf_dicom_native_pixels(vf_dicom_file *file, const void **data, uint64_t *length, char *err, size_t errlen);

/** One channel of a palette colour lookup table (PALETTE COLOR images). */
typedef struct {
    uint32_t entries;        /**< number of entries (a descriptor value of 0 means 65536) */
    int32_t first_mapped;    /**< pixel value mapped to entry 0 */
    uint32_t bits;           /**< bits per entry, 8 or 16 */
    uint32_t data_bytes;     /**< bytes of LUT data found */
} vf_palette_info;

/** Reads channel `channel` (0 red, 1 green, 2 blue) of the palette: descriptor into `info`, entries into `dst`
 *  (room for `capacity` 16-bit values; 8-bit tables are returned one entry per value). Segmented palettes
 *  are not supported. Returns 0 on success, non-zero with `err`. */
int vf_dicom_palette(vf_dicom_file *file, int channel, vf_palette_info *info, uint16_t *dst, size_t capacity,
                     char *err, size_t errlen);

/* ---- DICOM Segmentation (SEG) writing ------------------------------------------------------------------
 * A SEG is built step by step on a handle: create it from one file of the source series (its patient, study,
 * frame of reference and character set are copied), add segments, the shared geometry, the referenced source
 * instances and one entry per frame, then write it with the pixel data. Decimal strings (DS) are
 * passed already formatted (at most 16 characters each, values separated by backslashes). */

/** A SEG under construction. Owned by the caller; release with vf_seg_free. */
typedef struct vf_seg vf_seg;

/** Starts a SEG whose patient, study and frame of reference come from `source_file` (a file of the series
 *  it segments). `segmentation_type` is "BINARY" (1 bit), "FRACTIONAL" (8 bits, PROBABILITY, maximum 255)
 *  or "LABELMAP" (Label Map Segmentation Storage, 8 or 16 bits; frames carry segment numbers as pixel values
 *  and no segment dimension). Returns NULL with a message in `err` when the file cannot be read or has no
 *  FrameOfReferenceUID, or the type and bits do not go together. */
vf_seg *vf_seg_create(const char *source_file, const char *segmentation_type, uint16_t bits_allocated, char *err, size_t errlen);

/** Releases a SEG handle (NULL is allowed). */
void vf_seg_free(vf_seg *seg);

/** Sets a top-level string attribute (group, element) of the SEG, e.g. SeriesDescription. Returns 0 or 1. */
int vf_seg_set_string(vf_seg *seg, uint16_t group, uint16_t element, const char *value);

/** Adds a segment. Codes are (scheme, value, meaning); an empty region scheme leaves the region out.
 *  `algorithm_type` is AUTOMATIC, SEMIAUTOMATIC or MANUAL; the algorithm name is written unless MANUAL.
 *  Returns 0 or 1. */
int vf_seg_add_segment(vf_seg *seg, uint16_t number, const char *label, const char *algorithm_type, const char *algorithm_name,
                       const char *category_scheme, const char *category_value, const char *category_meaning,
                       const char *type_scheme, const char *type_value, const char *type_meaning,
                       const char *region_scheme, const char *region_value, const char *region_meaning,
                       uint16_t cielab_l, uint16_t cielab_a, uint16_t cielab_b);

/** Sets the frame size and the shared geometry: ImageOrientationPatient ("r1\r2\r3\c1\c2\c3"), PixelSpacing
 *  ("row\column"), SliceThickness and SpacingBetweenSlices (empty to leave out). Returns 0 or 1. */
int vf_seg_set_geometry(vf_seg *seg, uint16_t rows, uint16_t columns, const char *orientation, const char *pixel_spacing,
                        const char *slice_thickness, const char *spacing_between_slices);

/** Lists one instance of the source series in the ReferencedSeriesSequence. Returns 0 or 1. */
int vf_seg_add_referenced_instance(vf_seg *seg, const char *series_uid, const char *class_uid, const char *instance_uid);

/** Adds the next frame: the segment it shows (0 in a LABELMAP, whose frames show all), its ImagePositionPatient ("x\y\z"), the source image it
 *  was derived from (class, instance and, for multi-frame sources, the 1-based frame number, else 0) and the
 *  1-based index of its position in the stack (the second dimension index). Returns 0 or 1. */
int vf_seg_add_frame(vf_seg *seg, uint16_t segment, const char *position, const char *source_class, const char *source_instance,
                     int32_t source_frame, uint32_t position_index);

/** The SEG's pixel data, `nbytes` zeroed bytes owned by `seg`, for the caller to fill in place before
 *  vf_seg_write(seg, path, NULL, 0, …). Layout as vf_seg_write describes. NULL when it cannot be allocated. */
uint8_t *vf_seg_pixels(vf_seg *seg, size_t nbytes);

/** Writes the SEG to `path` (explicit VR little endian) with `pixels`, or with the buffer vf_seg_pixels gave
 *  when `pixels` is NULL: for BINARY the frames' bits packed back to back, least significant bit first
 *  (ceil(frames * rows * columns / 8) bytes); otherwise one 8-bit or 16-bit (host order) value per pixel.
 *  Returns 0, or non-zero with `err`. */
int vf_seg_write(vf_seg *seg, const char *path, const uint8_t *pixels, size_t nbytes, char *err, size_t errlen);

/* ---- DICOM Structured Report (TID 1500 Measurement Report) on a SEG ---------------------------------- */

/** A code: scheme designator, value, meaning. */
typedef struct {
    const char *scheme;
    const char *value;
    const char *meaning;
} vf_sr_code;

/** The measurements of one segment. Numbers are DICOM decimal strings (at most 16 characters). */
typedef struct {
    uint16_t segment;                /**< the segment number in the SEG */
    const char *tracking_id;         /**< the segment's label */
    vf_sr_code finding;              /**< what the segment is (its segmented property type) */
    const char *volume;              /**< in cubic millimetres */
    const char *mean, *standard_deviation, *minimum, *maximum;  /**< of the image inside the segment */
} vf_sr_group;

/** Writes at `path` an Enhanced SR holding a TID 1500 Measurement Report with one TID 1411 group per entry of
 *  `groups`, each referencing its segment of the SEG at `seg_file` (whose patient and study it takes, and
 *  which it lists as evidence) and the series `source_series_uid` it segments. `intensity_kind`: 0 volume
 *  only, 1 CT (attenuation in HU), 2 other images (signal without units). Returns 0, or non-zero with `err`. */
int vf_sr_write(const char *seg_file, const char *source_series_uid, int intensity_kind, const vf_sr_group *groups,
                uint32_t count, const char *series_description, const char *device_name, const char *path,
                char *err, size_t errlen);

/* ---- DICOM Segmentation (SEG) reading ------------------------------------------------------------------
 * A SEG is opened like any file (vf_dicom_open); its pixels decode with vf_dicom_decode (1-bit frames arrive
 * one byte per pixel) and its shared orientation and spacing come from vf_dicom_frame_geometry. */

/** The segmentation-level attributes of a SEG. Empty strings for absent attributes. */
typedef struct {
    char sop_class_uid[65];
    char segmentation_type[17];        /**< BINARY, FRACTIONAL or LABELMAP */
    char fractional_type[17];          /**< PROBABILITY or OCCUPANCY (FRACTIONAL only) */
    uint32_t max_fractional_value;     /**< 0 when absent */
    uint32_t segments;                 /**< items of SegmentSequence */
    uint32_t per_frame_items;          /**< items of PerFrameFunctionalGroupsSequence */
    char frame_of_reference_uid[257];
    char referenced_series_uid[257];   /**< first item of ReferencedSeriesSequence */
} vf_seg_info;

/** One item of SegmentSequence. Codes are (scheme, value, meaning); absent ones are empty. */
typedef struct {
    uint16_t number;                   int has_number;
    char label[65];
    char description[65];
    char algorithm_type[17];
    char algorithm_name[65];
    char category_scheme[17], category_value[65], category_meaning[65];
    char type_scheme[17], type_value[65], type_meaning[65];
    char region_scheme[17], region_value[65], region_meaning[65];
    uint16_t cielab[3];                int has_cielab;
} vf_seg_segment;

/** Reads the segmentation-level attributes of a loaded SEG. Returns 0, or non-zero with `err`. */
int vf_seg_read_info(vf_dicom_file *file, vf_seg_info *out, char *err, size_t errlen);

/** Reads item `index` (0-based) of SegmentSequence. Returns 0, or 1 when there is no such item. */
int vf_seg_read_segment(vf_dicom_file *file, uint32_t index, vf_seg_segment *out);

/** For each of `count` frames: its ImagePositionPatient (3 values into `positions`, `has_position` 1 when
 *  found in its per-frame or the shared group) and its ReferencedSegmentNumber (0 when absent, as in a
 *  LABELMAP). One pass over the per-frame functional groups. Returns 0 or 1. */
int vf_seg_read_frames(vf_dicom_file *file, uint32_t count, double *positions, uint8_t *has_position, uint16_t *segments);

/* ---- DICOM RT Structure Set (RTSTRUCT) --------------------------------------------------------------------
 * Writing: create from one file of the source series (patient, study and frame of reference are copied), list
 * the series' images, add ROIs, then each ROI's planar closed contours (points in patient mm, x y z after each
 * other; written as decimal strings of at most 16 characters), and write. Reading: open the file with
 * vf_dicom_open, then read its ROIs and, through a callback, each ROI's contours. */

/** An RTSTRUCT under construction. Owned by the caller; release with vf_rt_free. */
typedef struct vf_rt vf_rt;

/** Starts an RTSTRUCT for the series `source_file` belongs to. Returns NULL with `err` when the file cannot be
 *  read or has no FrameOfReferenceUID. */
vf_rt *vf_rt_create(const char *source_file, char *err, size_t errlen);

/** Releases an RTSTRUCT handle (NULL is allowed). */
void vf_rt_free(vf_rt *rt);

/** Sets a top-level string attribute (group, element). Returns 0 or 1. */
int vf_rt_set_string(vf_rt *rt, uint16_t group, uint16_t element, const char *value);

/** Lists one image of the source series in the referenced series' ContourImageSequence. Returns 0 or 1. */
int vf_rt_add_image(vf_rt *rt, const char *class_uid, const char *instance_uid);

/** Adds ROI `number` with its name, generation algorithm (AUTOMATIC, SEMIAUTOMATIC, MANUAL), RT ROI
 *  interpreted type (e.g. ORGAN; empty allowed) and display colour. Returns 0 or 1. */
int vf_rt_add_roi(vf_rt *rt, int32_t number, const char *name, const char *algorithm, const char *interpreted_type,
                  uint8_t red, uint8_t green, uint8_t blue);

/** Adds a CLOSED_PLANAR contour of `count` (>= 3) points to ROI `roi`, lying on the image (class, instance and,
 *  for multi-frame images, the 1-based frame, else 0). Returns 0 or 1. */
int vf_rt_add_contour(vf_rt *rt, int32_t roi, const char *image_class, const char *image_instance, int32_t image_frame,
                      const double *points, uint32_t count);

/** Writes the RTSTRUCT to `path` (explicit VR little endian). Returns 0, or non-zero with `err`. */
int vf_rt_write(vf_rt *rt, const char *path, char *err, size_t errlen);

/** The structure-set-level attributes of an RTSTRUCT. */
typedef struct {
    char sop_class_uid[65];
    char frame_of_reference_uid[257];  /**< first item of ReferencedFrameOfReferenceSequence */
    char referenced_series_uid[257];   /**< its first RTReferencedStudySequence > RTReferencedSeriesSequence item */
    uint32_t rois;                     /**< items of StructureSetROISequence */
} vf_rt_info;

/** One ROI: number, name, colour (from its ROIContourSequence item) and number of contours. */
typedef struct {
    int32_t number;
    char name[65];
    char frame_of_reference_uid[257];
    int32_t color[3];                  int has_color;
    uint32_t contours;
} vf_rt_roi;

/** Receives one contour: its index within the ROI, ContourGeometricType, and `count` points (x y z). Return
 *  non-zero to stop. */
typedef int (*vf_rt_contour_callback)(void *context, uint32_t index, const char *geometric_type, const double *points, uint32_t count);

/** Reads the structure-set attributes of a loaded RTSTRUCT. Returns 0, or non-zero with `err`. */
int vf_rt_read_info(vf_dicom_file *file, vf_rt_info *out, char *err, size_t errlen);

/** Reads item `index` (0-based) of StructureSetROISequence. Returns 0, or 1 when absent or without ROINumber. */
int vf_rt_read_roi(vf_dicom_file *file, uint32_t index, vf_rt_roi *out);

/** Calls `callback` for every contour of ROI `roi_number`, in order. Returns 0; 1 when a contour's data cannot be
 *  read; 2 when the callback stopped. */
int vf_rt_read_contours(vf_dicom_file *file, int32_t roi_number, vf_rt_contour_callback callback, void *context);

/* ---- Secondary Capture overlays ----------------------------------------------------------------------------
 * One SC image per source slice, RGB, with label outlines burned in, for PACS that cannot show DICOM SEG. */

/** Attributes of one overlay image. Strings may be empty (position, orientation and spacing are then left out). */
typedef struct {
    const char *series_uid;
    int32_t series_number;
    int32_t instance_number;
    const char *series_description;
    const char *comments;            /**< ImageComments: the legend in words */
    const char *source_class;        /**< the source image it copies */
    const char *source_instance;
    int32_t source_frame;            /**< 1-based frame of a multi-frame source, else 0 */
    const char *position;            /**< ImagePositionPatient "x\\y\\z" */
    const char *orientation;         /**< ImageOrientationPatient */
    const char *pixel_spacing;       /**< PixelSpacing "row\\column" */
    uint16_t rows, columns;
} vf_sc_attributes;

/** Writes one Secondary Capture image to `path`: patient, study and frame of reference copied from
 *  `source_file`, `rgb` (rows * columns * 3 bytes, row after row) as its pixels. Returns 0, or non-zero with `err`. */
int vf_sc_write(const char *source_file, const char *path, const vf_sc_attributes *attributes, const uint8_t *rgb, char *err, size_t errlen);

/** Reads attributes for sidecars and diffusion tables without loading the pixel data: `tags` holds the
 *  keys (group << 16 | element) of top-level attributes, `csa_names` element names of the Siemens CSA
 *  image header. Writes tag_count + csa_count values to `out` as consecutive NUL-terminated strings
 *  (several values or CSA items joined with '\\'; an absent one is empty). Returns 0; 1 with `err` when the
 *  file cannot be read; 2 when `capacity` is too small. */
int vf_dicom_read_attributes(const char *path, const uint32_t *tags, int tag_count,
                             const char *const *csa_names, int csa_count, char *out, size_t capacity,
                             char *err, size_t errlen);

/** Receives one referenced file of a DICOMDIR: its ReferencedFileID with components joined by '/', and the
 *  record's DirectoryRecordType ("IMAGE", "RT STRUCTURE", …). */
typedef void (*vf_dicomdir_callback)(void *context, const char *file_id, const char *record_type);

/** Lists the files a DICOMDIR references, in record order. Returns 0, or 1 with `err` when the file cannot
 *  be read or has no DirectoryRecordSequence. */
int vf_dicomdir_files(const char *path, vf_dicomdir_callback callback, void *context, char *err, size_t errlen);

/** A new UID (for a series), at most 64 characters. */
void vf_new_uid(char *out, size_t capacity);

/* ---- De-identification (vf_dcmtk_deid.cpp) ---- */

/** Reads a top-level attribute of a loaded file as text (all values joined with '\').
 *  Returns 0, 1 when the attribute is absent or not text, 2 when it does not fit `capacity`. */
int vf_dicom_get_string(vf_dicom_file *file, uint16_t group, uint16_t element, char *out, size_t capacity);

/** 1 when the top-level dataset of a loaded file has the attribute (of any VR), else 0. */
int vf_dicom_has_element(vf_dicom_file *file, uint16_t group, uint16_t element);

/** One element met by vf_deid_walk. Pointers are valid only during the callback. */
typedef struct {
    uint16_t group, element;
    char vr[3];                   /**< the value representation, e.g. "PN", "SQ", "OB" */
    int is_sequence;
    int depth;                    /**< 0 in the top-level dataset, 1 inside an item of a top-level sequence, … */
    const char *private_creator;  /**< for a private data element: its block's creator ("" when none); else NULL */
    const char *value;            /**< for text VRs: every value joined with '\'; NULL for binary VRs and sequences */
} vf_deid_element;

/** What the policy wants done with an element. For a sequence, KEEP walks into its items. */
enum { VF_DEID_KEEP = 0, VF_DEID_REMOVE = 1, VF_DEID_REPLACE = 2, VF_DEID_EMPTY = 3, VF_DEID_STOP = 4 };

/** The policy: returns a VF_DEID_* action; for REPLACE, writes the new text value (NUL-terminated, at most
 *  `capacity` bytes) into `replacement`. */
typedef int (*vf_deid_callback)(void *context, const vf_deid_element *element, char *replacement, size_t capacity);

/** Walks every element of a loaded file depth-first in tag order and applies the callback's action to it.
 *  Returns 0, or non-zero with a message (the callback stopped the walk, or DCMTK failed). */
int vf_deid_walk(vf_dicom_file *file, vf_deid_callback callback, void *context, char *err, size_t errlen);

/** One entry of De-identification Method Code Sequence (scheme DCM, CID 7050). */
typedef struct { const char *value; const char *meaning; } vf_deid_code;

/** Records what was done: PatientIdentityRemoved YES, DeidentificationMethod, its code sequence and (when
 *  not empty) LongitudinalTemporalInformationModified. Returns 0 or non-zero. */
int vf_deid_finish(vf_dicom_file *file, const char *method, const vf_deid_code *codes, size_t count,
                   const char *temporal_information);

/** Saves a loaded file in its own transfer syntax with a meta header rebuilt from the dataset.
 *  Returns 0, or non-zero with a message. */
int vf_deid_save(vf_dicom_file *file, const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
