/* CNIfTI shim: converts between on-disk NIfTI headers and vf_nifti_header using libnifti2. */
#include "vf_nifti.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <nifti/nifti2_io.h>

static pthread_once_t vf_quiet_once = PTHREAD_ONCE_INIT;

/* libnifti2 prints diagnostics to stderr at its default debug level; VoxelIO reports errors itself. */
static void vf_make_quiet(void) { nifti_set_debug_level(0); }

static void vf_set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen > 0) {
        snprintf(err, errlen, "%s", msg);
    }
}

int vf_nifti_datatype_size(int datatype) {
    int nbyper = 0, swapsize = 0;
    nifti_datatype_sizes(datatype, &nbyper, &swapsize);
    return nbyper;
}

static void vf_copy_dmat(double dst[4][4], const nifti_dmat44 *src) {
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            dst[r][c] = src->m[r][c];
}

/* Reads dim[] and vox_offset from a host-order copy of the raw header. libnifti2 "repairs" a dim[i] < 1 to 1
   and converts NIfTI-1's float vox_offset without range checks, so both are checked here, on the file's own
   values. A vox_offset that is not a whole number from 0 to 2^62 becomes -1. */
static void vf_raw_fields(const void *bytes, int version, int64_t dim[8], int64_t *vox_offset) {
    double offset;
    if (version == 2) {
        nifti_2_header h2;
        memcpy(&h2, bytes, sizeof(h2));
        if (h2.sizeof_hdr != 540) swap_nifti_header(&h2, 2);
        for (int i = 0; i < 8; i++) dim[i] = h2.dim[i];
        *vox_offset = h2.vox_offset >= 0 ? h2.vox_offset : -1;
        return;
    }
    nifti_1_header h1;
    memcpy(&h1, bytes, sizeof(h1));
    if (h1.sizeof_hdr != 348) swap_nifti_header(&h1, 1);
    for (int i = 0; i < 8; i++) dim[i] = h1.dim[i];
    offset = (double)h1.vox_offset;
    if (isfinite(offset) && offset >= 0 && offset <= 4611686018427387904.0 && offset == floor(offset)) {
        *vox_offset = (int64_t)offset;
    } else {
        *vox_offset = -1;
    }
}

/* Checks the raw dim[]: dim[0] from 1 to 7 and every used dim[i] at least 1.
   Returns 0, or 2 (dimension problem) with a message. */
static int vf_check_dims(const int64_t dim[8], char *err, size_t errlen) {
    char msg[160];
    if (dim[0] < 1 || dim[0] > 7) {
        snprintf(msg, sizeof(msg), "dim[0] = %lld, must be 1 to 7", (long long)dim[0]);
        vf_set_err(err, errlen, msg);
        return 2;
    }
    for (int i = 1; i <= dim[0]; i++) {
        if (dim[i] < 1) {
            snprintf(msg, sizeof(msg), "dim[%d] = %lld, must be at least 1", i, (long long)dim[i]);
            vf_set_err(err, errlen, msg);
            return 2;
        }
    }
    return 0;
}

int vf_nifti_parse_header(const void *bytes, size_t nbytes, vf_nifti_header *out, char *err, size_t errlen) {
    pthread_once(&vf_quiet_once, vf_make_quiet);
    memset(out, 0, sizeof(*out));
    if (nbytes < sizeof(nifti_1_header)) {
        vf_set_err(err, errlen, "file is shorter than a NIfTI-1 header (348 bytes)");
        return 1;
    }
    int version = nifti_header_version((const char *)bytes, nbytes);
    if (version != 0 && version != 1 && version != 2) {
        vf_set_err(err, errlen, "sizeof_hdr is neither 348 (NIfTI-1) nor 540 (NIfTI-2) in either byte order");
        return 1;
    }
    if (version == 2 && nbytes < sizeof(nifti_2_header)) {
        vf_set_err(err, errlen, "file is shorter than a NIfTI-2 header (540 bytes)");
        return 1;
    }
    /* The dimensions are checked before libnifti2 sees the header: it indexes its 8-element arrays with
       dim[0] unchecked (a NIfTI-2 dim[0] of 2^32 + 3 overflows the stack). */
    int64_t raw_dim[8];
    int64_t raw_offset = -1;
    vf_raw_fields(bytes, version == 2 ? 2 : 1, raw_dim, &raw_offset);
    int dim_status = vf_check_dims(raw_dim, err, errlen);
    if (dim_status != 0) return dim_status;
    nifti_image *nim = NULL;
    if (version == 2) {
        nifti_2_header h2;
        memcpy(&h2, bytes, sizeof(h2));
        nim = nifti_convert_n2hdr2nim(h2, NULL);
    } else {
        nifti_1_header h1;
        memcpy(&h1, bytes, sizeof(h1));
        nim = nifti_convert_n1hdr2nim(h1, NULL);
    }
    if (nim == NULL) {
        vf_set_err(err, errlen, "libnifti2 rejected the header");
        return 1;
    }

    /* libnifti2 records NIfTI-2 files with NIfTI-1 file types, so the version comes from the header
       layout and the single-file/pair distinction from the magic string itself. */
    const char *magic = (version == 2) ? (const char *)bytes + 4 : (const char *)bytes + 344;
    if (nim->nifti_type == NIFTI_FTYPE_ANALYZE) {
        out->version = 0;
    } else {
        out->version = (version == 2) ? 2 : 1;
        out->is_pair = (magic[1] == 'i') ? 1 : 0;
    }
    out->swapped = (nim->byteorder != nifti_short_order());
    for (int i = 0; i < 8; i++) {
        out->dim[i] = nim->dim[i];
        out->pixdim[i] = nim->pixdim[i];
    }
    out->datatype = nim->datatype;
    out->bitpix = nim->nbyper * 8;
    out->scl_slope = nim->scl_slope;
    out->scl_inter = nim->scl_inter;
    out->cal_min = nim->cal_min;
    out->cal_max = nim->cal_max;
    out->qform_code = nim->qform_code;
    out->sform_code = nim->sform_code;
    vf_copy_dmat(out->qform, &nim->qto_xyz);
    vf_copy_dmat(out->sform, &nim->sto_xyz);
    out->quatern_b = nim->quatern_b;
    out->quatern_c = nim->quatern_c;
    out->quatern_d = nim->quatern_d;
    out->qoffset_x = nim->qoffset_x;
    out->qoffset_y = nim->qoffset_y;
    out->qoffset_z = nim->qoffset_z;
    out->qfac = nim->qfac;
    out->vox_offset = raw_offset;
    out->xyz_units = nim->xyz_units;
    out->time_units = nim->time_units;
    out->toffset = nim->toffset;
    out->intent_code = nim->intent_code;
    memcpy(out->descrip, nim->descrip, 80);
    out->descrip[80] = 0;
    memcpy(out->intent_name, nim->intent_name, 16);
    out->intent_name[16] = 0;
    nifti_image_free(nim);
    return 0;
}

int vf_nifti_encode_header(const vf_nifti_header *in, unsigned char *out, size_t *outlen, char *err, size_t errlen) {
    pthread_once(&vf_quiet_once, vf_make_quiet);
    if (in->version != 1 && in->version != 2) {
        vf_set_err(err, errlen, "NIfTI version must be 1 or 2");
        return 1;
    }
    nifti_image *nim = nifti_simple_init_nim();
    if (nim == NULL) {
        vf_set_err(err, errlen, "libnifti2 could not allocate an image header");
        return 1;
    }
    int64_t ndim = in->dim[0];
    nim->ndim = ndim;
    nim->nvox = 1;
    for (int i = 0; i < 8; i++) {
        int64_t d = (i == 0) ? ndim : (i <= ndim ? in->dim[i] : 1);
        nim->dim[i] = d;
        nim->pixdim[i] = (i == 0) ? 1.0 : (i <= ndim ? in->pixdim[i] : 1.0);
        if (i >= 1) nim->nvox *= d;
    }
    nim->nx = nim->dim[1]; nim->ny = nim->dim[2]; nim->nz = nim->dim[3]; nim->nt = nim->dim[4];
    nim->nu = nim->dim[5]; nim->nv = nim->dim[6]; nim->nw = nim->dim[7];
    nim->dx = nim->pixdim[1]; nim->dy = nim->pixdim[2]; nim->dz = nim->pixdim[3]; nim->dt = nim->pixdim[4];
    nim->du = nim->pixdim[5]; nim->dv = nim->pixdim[6]; nim->dw = nim->pixdim[7];
    nim->datatype = in->datatype;
    int swapsize = 0;
    nifti_datatype_sizes(in->datatype, &nim->nbyper, &swapsize);
    if (nim->nbyper == 0) {
        nifti_image_free(nim);
        vf_set_err(err, errlen, "unknown NIfTI datatype code");
        return 1;
    }
    nim->scl_slope = in->scl_slope;
    nim->scl_inter = in->scl_inter;
    nim->cal_min = in->cal_min;
    nim->cal_max = in->cal_max;
    nim->qform_code = in->qform_code;
    nim->sform_code = in->sform_code;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            nim->sto_xyz.m[r][c] = in->sform[r][c];
    double dx = 0, dy = 0, dz = 0;
    nifti_dmat44_to_quatern(nim->sto_xyz, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d,
                            &nim->qoffset_x, &nim->qoffset_y, &nim->qoffset_z, &dx, &dy, &dz, &nim->qfac);
    nim->qto_xyz = nifti_quatern_to_dmat44(nim->quatern_b, nim->quatern_c, nim->quatern_d,
                                           nim->qoffset_x, nim->qoffset_y, nim->qoffset_z,
                                           nim->dx, nim->dy, nim->dz, nim->qfac);
    nim->pixdim[0] = nim->qfac;
    nim->xyz_units = in->xyz_units;
    nim->time_units = in->time_units;
    nim->toffset = in->toffset;
    nim->intent_code = in->intent_code;
    snprintf(nim->descrip, sizeof(nim->descrip), "%s", in->descrip);
    snprintf(nim->intent_name, sizeof(nim->intent_name), "%s", in->intent_name);
    if (in->version == 1) {
        nim->nifti_type = in->is_pair ? NIFTI_FTYPE_NIFTI1_2 : NIFTI_FTYPE_NIFTI1_1;
        nim->iname_offset = in->is_pair ? 0 : 352;
        nifti_1_header h1;
        if (nifti_convert_nim2n1hdr(nim, &h1) != 0) {
            nifti_image_free(nim);
            vf_set_err(err, errlen, "libnifti2 could not encode a NIfTI-1 header (dimensions too large? use NIfTI-2)");
            return 1;
        }
        memcpy(out, &h1, sizeof(h1));
        *outlen = sizeof(h1);
    } else {
        nim->nifti_type = in->is_pair ? NIFTI_FTYPE_NIFTI2_2 : NIFTI_FTYPE_NIFTI2_1;
        nim->iname_offset = in->is_pair ? 0 : 544;
        nifti_2_header h2;
        if (nifti_convert_nim2n2hdr(nim, &h2) != 0) {
            nifti_image_free(nim);
            vf_set_err(err, errlen, "libnifti2 could not encode a NIfTI-2 header");
            return 1;
        }
        memcpy(out, &h2, sizeof(h2));
        *outlen = sizeof(h2);
    }
    nifti_image_free(nim);
    return 0;
}

void vf_nifti_swap_header(void *bytes, int version) {
    swap_nifti_header(bytes, version == 2 ? 2 : 1);
}
