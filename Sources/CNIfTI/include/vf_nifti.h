/* CNIfTI: a small C interface over libnifti2 for VoxelIO.
 * Why it exists: Swift sees only this flat struct and two functions, never libnifti2's types, so the
 * header conversion (byte swapping, quaternion maths, NIfTI-1 vs NIfTI-2 layouts) stays in libnifti2
 * while voxel I/O (fast gzip, bounds checks) stays in Swift. All functions are thread-safe except
 * where noted and never print to stdout or stderr. */
#ifndef VF_NIFTI_H
#define VF_NIFTI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Everything VoxelIO needs from (or puts in) a NIfTI header, in host byte order.
 *  Matrices are row-major 4x4, mapping (i, j, k, 1) to NIfTI RAS+ millimetres. */
typedef struct {
    int version;              /**< 1 or 2; 0 = Analyze 7.5 (no NIfTI magic) */
    int is_pair;              /**< 1 when the magic says header and voxels live in separate files (ni1/ni2) */
    int swapped;              /**< 1 when the file is in the opposite byte order to this machine */
    int64_t dim[8];           /**< dim[0] = number of dimensions, dim[1...] sizes */
    double pixdim[8];         /**< pixdim[0] = qfac, pixdim[1...] spacings */
    int datatype;             /**< NIfTI DT_* code */
    int bitpix;
    double scl_slope, scl_inter;
    double cal_min, cal_max;
    int qform_code, sform_code;
    double qform[4][4];       /**< qform matrix computed by libnifti2 (valid when qform_code > 0) */
    double sform[4][4];       /**< srow_x/y/z as stored (valid when sform_code > 0) */
    double quatern_b, quatern_c, quatern_d, qoffset_x, qoffset_y, qoffset_z, qfac;
    int64_t vox_offset;       /**< byte offset of the voxels in the data file as stored; -1 when the stored value is not a whole number from 0 to 2^62 */
    int xyz_units, time_units;
    double toffset;
    int intent_code;
    char descrip[81];
    char intent_name[17];
} vf_nifti_header;

/** Parses an on-disk header (NIfTI-1: 348 bytes, NIfTI-2: 540 bytes, either byte order).
 *  Returns 0 on success; 2 when a dimension is invalid; 1 for any other refusal. On failure `err` holds a
 *  NUL-terminated message of at most errlen bytes. */
int vf_nifti_parse_header(const void *bytes, size_t nbytes, vf_nifti_header *out, char *err, size_t errlen);

/** Encodes `in` as a little-endian on-disk header. `in->sform` is written as the sform, and the qform
 *  (quaternion + offsets + qfac) is derived from it by libnifti2. Writes 348 (version 1) or 540 (version 2)
 *  bytes to `out` (capacity >= 540) and sets `*outlen`. Returns 0 on success, non-zero with `err` otherwise. */
int vf_nifti_encode_header(const vf_nifti_header *in, unsigned char *out, size_t *outlen, char *err, size_t errlen);

/** Swaps the byte order of an on-disk header of the given version (1: 348 bytes, 2: 540 bytes) in place. */
void vf_nifti_swap_header(void *bytes, int version);

/** Size in bytes of one voxel of the given DT_* code, or 0 when libnifti2 does not know it. */
int vf_nifti_datatype_size(int datatype);

#ifdef __cplusplus
}
#endif
#endif
