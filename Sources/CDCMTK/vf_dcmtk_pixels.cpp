// CDCMTK shim: loads DICOM files and decodes their pixel data (see vf_dcmtk.h).
// DCMTK's codecs decode native, RLE, JPEG (8/12/16-bit) and JPEG-LS data frame by frame; DCMTK 3.6.7 has no
// JPEG 2000 decoder, so those frames go to OpenJPEG (vf_dcmtk_j2k.cpp).
#include "vf_dcmtk.h"
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

namespace {

void setErr(char *err, size_t errlen, const char *msg) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", msg);
}

// Codec registration is global in DCMTK; do it once. The JPEG decoder converts YBR to RGB as the
// photometric interpretation says, like every viewer.
void registerCodecs() {
    static std::once_flag once;
    std::call_once(once, [] {
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        DcmRLEDecoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
    });
}

bool isJPEG2000(const char *uid) {
    return std::strcmp(uid, "1.2.840.10008.1.2.4.90") == 0 || std::strcmp(uid, "1.2.840.10008.1.2.4.91") == 0 ||
           std::strcmp(uid, "1.2.840.10008.1.2.4.92") == 0 || std::strcmp(uid, "1.2.840.10008.1.2.4.93") == 0 ||
           std::strncmp(uid, "1.2.840.10008.1.2.4.20", 22) == 0;  // HTJ2K 201-203
}

/// 1-bit data (e.g. binary segmentations): frames are packed back to back, least significant bit first;
/// each bit becomes one byte, 0 or 1.
int unpackBits(DcmElement *element, const vf_pixel_info &info, unsigned char *dst, char *color_model, size_t color_len,
               char *err, size_t errlen) {
    if (info.encapsulated) {
        setErr(err, errlen, "compressed 1-bit pixel data is not supported");
        return 1;
    }
    uint64_t bits = static_cast<uint64_t>(info.rows) * info.columns * info.samples_per_pixel * info.frames;
    const unsigned char *bytes = nullptr;
    Uint8 *b8 = nullptr;
    Uint16 *b16 = nullptr;
    if (element->getVR() == EVR_OW) {
        if (element->getUint16Array(b16).good()) bytes = reinterpret_cast<const unsigned char *>(b16);
    } else if (element->getUint8Array(b8).good()) {
        bytes = b8;
    }
    if (bytes == nullptr || static_cast<uint64_t>(element->getLength()) * 8 < bits) {
        setErr(err, errlen, "1-bit pixel data is shorter than Rows x Columns x NumberOfFrames");
        return 1;
    }
    for (uint64_t i = 0; i < bits; i++) dst[i] = (bytes[i >> 3] >> (i & 7)) & 1;
    std::snprintf(color_model, color_len, "%s", info.photometric_interpretation);
    return 0;
}

/// Copies native pixel bytes as stored (8-bit data, so byte order does not matter).
int copyNative(DcmElement *element, const vf_pixel_info &info, unsigned char *dst, char *color_model, size_t color_len,
               char *err, size_t errlen) {
    Uint8 *bytes = nullptr;
    Uint16 *words = nullptr;
    const unsigned char *src = nullptr;
    if (element->getVR() == EVR_OW) {
        if (element->getUint16Array(words).good()) src = reinterpret_cast<const unsigned char *>(words);
    } else if (element->getUint8Array(bytes).good()) {
        src = bytes;
    }
    uint64_t needed = info.frame_bytes * info.frames;
    if (src == nullptr || static_cast<uint64_t>(element->getLength()) < needed) {
        setErr(err, errlen, "pixel data is shorter than the image needs");
        return 1;
    }
    std::memcpy(dst, src, needed);
    std::snprintf(color_model, color_len, "%s", info.photometric_interpretation);
    return 0;
}

/// Checks every RLE fragment's 64-byte header before DCMTK's decoder reads it: DCMTK follows the segment
/// offsets without checking them against the fragment, so a hostile offset reads far outside the buffer.
/// PS3.5 Annex G: one fragment per frame; the header holds the segment count (1 to 15, one segment per byte
/// of a sample times the samples per pixel) and 15 offsets; the first is 64, and they increase, each inside
/// the fragment with at least one byte of data.
int validateRLE(DcmPixelData *pixels, const vf_pixel_info &info, char *err, size_t errlen) {
    DcmPixelSequence *sequence = nullptr;
    const DcmRepresentationParameter *param = nullptr;
    DcmXfer xfer(info.transfer_syntax_uid);
    char msg[200];
    if (pixels->getEncapsulatedRepresentation(xfer.getXfer(), param, sequence).bad() || sequence == nullptr) {
        setErr(err, errlen, "RLE: no encapsulated fragments found");
        return 1;
    }
    unsigned long count = sequence->card();
    if (count < 1 + static_cast<unsigned long>(info.frames)) {
        std::snprintf(msg, sizeof(msg), "RLE: %lu fragment(s) for %u frame(s); each frame needs its own fragment",
                      count > 0 ? count - 1 : 0, info.frames);
        setErr(err, errlen, msg);
        return 1;
    }
    uint32_t expected = info.samples_per_pixel * (info.bits_allocated / 8);
    for (unsigned long n = 1; n < count; n++) {
        DcmPixelItem *item = nullptr;
        Uint8 *data = nullptr;
        if (sequence->getItem(item, n).bad() || item == nullptr || item->getUint8Array(data).bad() || data == nullptr) {
            std::snprintf(msg, sizeof(msg), "RLE fragment %lu cannot be read", n);
            setErr(err, errlen, msg);
            return 1;
        }
        Uint32 length = item->getLength();
        if (length < 64) {
            std::snprintf(msg, sizeof(msg), "RLE fragment %lu holds %u bytes, shorter than its 64-byte header", n, length);
            setErr(err, errlen, msg);
            return 1;
        }
        auto word = [data](int i) {
            return static_cast<uint32_t>(data[4 * i]) | (static_cast<uint32_t>(data[4 * i + 1]) << 8) |
                   (static_cast<uint32_t>(data[4 * i + 2]) << 16) | (static_cast<uint32_t>(data[4 * i + 3]) << 24);
        };
        uint32_t segments = word(0);
        if (segments < 1 || segments > 15 || segments != expected) {
            std::snprintf(msg, sizeof(msg), "RLE fragment %lu declares %u segments; the image needs %u (1 to 15)", n, segments, expected);
            setErr(err, errlen, msg);
            return 1;
        }
        uint32_t previous = 0;
        for (uint32_t k = 0; k < segments; k++) {
            uint32_t offset = word(1 + static_cast<int>(k));
            bool ok = (k == 0) ? offset == 64 : offset > previous;
            if (!ok || offset >= length) {
                std::snprintf(msg, sizeof(msg), "RLE fragment %lu: segment %u starts at byte %u, outside the %u-byte fragment or out of order",
                              n, k + 1, offset, length);
                setErr(err, errlen, msg);
                return 1;
            }
            previous = offset;
        }
    }
    return 0;
}

}  // namespace

extern "C" vf_dicom_file *vf_dicom_open(const char *path, int header_only, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<vf_dicom_file *>(nullptr), [&]() -> vf_dicom_file * {
        registerCodecs();
        auto *file = new (std::nothrow) vf_dicom_file();
        if (file == nullptr) {
            setErr(err, errlen, "out of memory");
            return nullptr;
        }
        OFCondition status = header_only
            ? file->format.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData)
            // Values over 64 KiB (the pixel data) stay on disk until decoded, then go straight into the caller's buffer.
            : file->format.loadFile(path, EXS_Unknown, EGL_noChange, 65536, ERM_autoDetect);
        if (status.bad()) {
            setErr(err, errlen, status.text());
            delete file;
            return nullptr;
        }
        return file;
    });
}

extern "C" void vf_dicom_close(vf_dicom_file *file) { delete file; }

extern "C" int vf_dicom_pixel_info(vf_dicom_file *file, vf_pixel_info *out, char *err, size_t errlen) {
    std::memset(out, 0, sizeof(*out));
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmDataset *ds = file->format.getDataset();
        DcmElement *element = nullptr;
        if (ds == nullptr || ds->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
            setErr(err, errlen, "the file has no pixel data");
            return 1;
        }
        Uint16 v = 0;
        if (ds->findAndGetUint16(DCM_Rows, v).bad() || v == 0) { setErr(err, errlen, "Rows is missing or 0"); return 1; }
        out->rows = v;
        if (ds->findAndGetUint16(DCM_Columns, v).bad() || v == 0) { setErr(err, errlen, "Columns is missing or 0"); return 1; }
        out->columns = v;
        if (ds->findAndGetUint16(DCM_BitsAllocated, v).bad()) { setErr(err, errlen, "BitsAllocated is missing"); return 1; }
        out->bits_allocated = v;
        out->bits_stored = ds->findAndGetUint16(DCM_BitsStored, v).good() ? v : out->bits_allocated;
        out->high_bit = ds->findAndGetUint16(DCM_HighBit, v).good() ? v : out->bits_stored - 1;
        out->pixel_representation = ds->findAndGetUint16(DCM_PixelRepresentation, v).good() ? v : 0;
        out->samples_per_pixel = ds->findAndGetUint16(DCM_SamplesPerPixel, v).good() && v > 0 ? v : 1;
        out->planar_configuration = ds->findAndGetUint16(DCM_PlanarConfiguration, v).good() ? v : 0;
        Sint32 frames = 1;
        if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) {
            OFString s;
            long parsed = 0;
            if (ds->findAndGetOFString(DCM_NumberOfFrames, s).good() && std::sscanf(s.c_str(), "%ld", &parsed) == 1 && parsed > 0) {
                frames = static_cast<Sint32>(parsed);
            } else {
                frames = 1;
            }
        }
        out->frames = static_cast<uint32_t>(frames);
        OFString pi;
        if (ds->findAndGetOFString(DCM_PhotometricInterpretation, pi).good()) {
            std::snprintf(out->photometric_interpretation, sizeof(out->photometric_interpretation), "%s", pi.c_str());
        }
        DcmXfer xfer(ds->getOriginalXfer());
        std::snprintf(out->transfer_syntax_uid, sizeof(out->transfer_syntax_uid), "%s", xfer.getXferID());
        out->encapsulated = xfer.isEncapsulated() ? 1 : 0;
        out->jpeg2000 = isJPEG2000(out->transfer_syntax_uid) ? 1 : 0;
        if (out->bits_allocated != 1 && out->bits_allocated % 8 != 0) {
            setErr(err, errlen, "BitsAllocated is not 1 or a multiple of 8");
            return 1;
        }
        uint64_t samples = static_cast<uint64_t>(out->rows) * out->columns * out->samples_per_pixel;
        // 1-bit data is delivered unpacked, one byte per sample. Native YBR_FULL_422 stores two chroma
        // samples per two pixels (Y Y Cb Cr), so a frame holds 2 bytes per pixel; it is delivered as stored.
        out->frame_bytes = out->bits_allocated == 1 ? samples : samples * (out->bits_allocated / 8);
        if (!out->encapsulated && out->samples_per_pixel == 3 && out->bits_allocated == 8 &&
            std::strncmp(out->photometric_interpretation, "YBR_FULL_422", 12) == 0) {
            out->frame_bytes = static_cast<uint64_t>(out->rows) * out->columns * 2;
        }
        // Frames the stored data cannot hold are refused here, before the caller allocates for them (found
        // by fuzzing: a 3 KB SEG claiming 65,535 frames of 512 x 512 asked for 16 GB).
        char msg[200];
        if (!out->encapsulated) {
            uint64_t need = out->bits_allocated == 1 ? (samples * out->frames + 7) / 8 : out->frame_bytes * out->frames;
            uint64_t stored = element->getLength();
            if (stored < need) {
                std::snprintf(msg, sizeof(msg), "the pixel data holds %llu bytes; %u frame(s) of %u x %u pixels of %u sample(s) need %llu",
                              static_cast<unsigned long long>(stored), out->frames, out->columns, out->rows,
                              out->samples_per_pixel, static_cast<unsigned long long>(need));
                setErr(err, errlen, msg);
                return 1;
            }
        } else {
            DcmPixelSequence *sequence = nullptr;
            const DcmRepresentationParameter *param = nullptr;
            auto *pixels = OFstatic_cast(DcmPixelData *, element);
            if (element->ident() == EVR_PixelData && pixels->getEncapsulatedRepresentation(xfer.getXfer(), param, sequence).good() && sequence != nullptr &&
                sequence->card() > 0 && out->frames > sequence->card() - 1) {
                std::snprintf(msg, sizeof(msg), "NumberOfFrames is %u but the compressed pixel data has %lu fragment(s); each frame needs one",
                              out->frames, sequence->card() - 1);
                setErr(err, errlen, msg);
                return 1;
            }
        }
        return 0;
    });
}

extern "C" int vf_dicom_native_pixels(vf_dicom_file *file, const void **data, uint64_t *length, char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        vf_pixel_info info;
        if (vf_dicom_pixel_info(file, &info, err, errlen) != 0) return 1;
        if (info.encapsulated || info.samples_per_pixel != 1 ||
            (info.bits_allocated != 1 && info.bits_allocated != 8 && info.bits_allocated != 16)) {
            setErr(err, errlen, "the pixel data is not native 1-, 8- or 16-bit data with one sample per pixel");
            return 1;
        }
        DcmElement *element = nullptr;
        file->format.getDataset()->findAndGetElement(DCM_PixelData, element);
        const void *bytes = nullptr;
        Uint8 *b8 = nullptr;
        Uint16 *b16 = nullptr;
        if (element == nullptr) {
        } else if (element->getVR() == EVR_OW || info.bits_allocated == 16) {
            if (element->getUint16Array(b16).good()) bytes = b16;
        } else if (element->getUint8Array(b8).good()) {
            bytes = b8;
        }
        uint64_t samples = static_cast<uint64_t>(info.rows) * info.columns * info.frames;
        uint64_t needed = info.bits_allocated == 1 ? (samples + 7) / 8 : samples * (info.bits_allocated / 8);
        if (bytes == nullptr || static_cast<uint64_t>(element->getLength()) < needed) {
            setErr(err, errlen, "pixel data is shorter than Rows x Columns x NumberOfFrames need");
            return 1;
        }
        *data = bytes;
        *length = element->getLength();
        return 0;
    });
}

extern "C" int vf_dicom_decode(vf_dicom_file *file, void *dst, size_t dstlen, char *color_model, size_t color_len,
                               char *err, size_t errlen) {
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        vf_pixel_info info;
        if (vf_dicom_pixel_info(file, &info, err, errlen) != 0) return 1;
        if (dstlen < info.frame_bytes * info.frames) {
            setErr(err, errlen, "destination buffer too small");
            return 1;
        }
        DcmDataset *ds = file->format.getDataset();
        DcmElement *element = nullptr;
        ds->findAndGetElement(DCM_PixelData, element);
        auto *pixels = OFstatic_cast(DcmPixelData *, element);
        if (info.jpeg2000) {
            return vf_j2k_decode_frames(pixels, info, static_cast<unsigned char *>(dst), color_model, color_len, err, errlen);
        }
        if (info.bits_allocated == 1) {
            return unpackBits(element, info, static_cast<unsigned char *>(dst), color_model, color_len, err, errlen);
        }
        if (!info.encapsulated && info.samples_per_pixel == 3 && info.bits_allocated == 8 &&
            std::strncmp(info.photometric_interpretation, "YBR_FULL_422", 12) == 0) {
            // DCMTK's frame access expects 3 bytes per pixel; the subsampled layout is copied as stored.
            return copyNative(element, info, static_cast<unsigned char *>(dst), color_model, color_len, err, errlen);
        }
        if (std::strcmp(info.transfer_syntax_uid, "1.2.840.10008.1.2.5") == 0 &&
            validateRLE(pixels, info, err, errlen) != 0) {
            return 1;
        }
        if (!info.encapsulated) {
            // Native data: check the stored length before DCMTK reads it, so a short file is an error, not garbage.
            Uint32 length = element->getLength();
            if (static_cast<uint64_t>(length) + 1 < info.frame_bytes * info.frames) {
                char msg[160];
                std::snprintf(msg, sizeof(msg), "pixel data holds %u bytes, the header needs %llu", length,
                              static_cast<unsigned long long>(info.frame_bytes * info.frames));
                setErr(err, errlen, msg);
                return 1;
            }
        }
        // getUncompressedFrame wants an even buffer size; decode odd-sized frames through a scratch buffer.
        uint64_t even = info.frame_bytes + (info.frame_bytes & 1);
        unsigned char *scratch = nullptr;
        if (even != info.frame_bytes) {
            scratch = new (std::nothrow) unsigned char[even];
            if (scratch == nullptr) { setErr(err, errlen, "out of memory"); return 1; }
        }
        Uint32 startFragment = 0;
        OFString model;
        for (uint32_t f = 0; f < info.frames; f++) {
            unsigned char *target = static_cast<unsigned char *>(dst) + static_cast<uint64_t>(f) * info.frame_bytes;
            OFCondition status = pixels->getUncompressedFrame(ds, f, startFragment, scratch ? scratch : target,
                                                              static_cast<Uint32>(even), model);
            if (status.bad()) {
                char msg[256];
                std::snprintf(msg, sizeof(msg), "frame %u: %s", f + 1, status.text());
                setErr(err, errlen, msg);
                delete[] scratch;
                return 1;
            }
            if (scratch) std::memcpy(target, scratch, info.frame_bytes);
        }
        delete[] scratch;
        // DCMTK swaps native big-endian data as 16-bit words; 32-bit samples then need their halves exchanged.
        if (!info.encapsulated && info.bits_allocated == 32 && DcmXfer(info.transfer_syntax_uid).getByteOrder() == EBO_BigEndian) {
            auto *words = static_cast<uint32_t *>(dst);
            uint64_t n = info.frame_bytes * info.frames / 4;
            for (uint64_t i = 0; i < n; i++) words[i] = (words[i] << 16) | (words[i] >> 16);
        }
        std::snprintf(color_model, color_len, "%s", model.empty() ? info.photometric_interpretation : model.c_str());
        return 0;
    });
}

extern "C" int vf_dicom_palette(vf_dicom_file *file, int channel, vf_palette_info *info, uint16_t *dst, size_t capacity,
                                char *err, size_t errlen) {
    std::memset(info, 0, sizeof(*info));
    try {
        static const DcmTagKey descriptors[3] = {DCM_RedPaletteColorLookupTableDescriptor,
                                                 DCM_GreenPaletteColorLookupTableDescriptor,
                                                 DCM_BluePaletteColorLookupTableDescriptor};
        static const DcmTagKey tables[3] = {DCM_RedPaletteColorLookupTableData, DCM_GreenPaletteColorLookupTableData,
                                            DCM_BluePaletteColorLookupTableData};
        if (channel < 0 || channel > 2) { setErr(err, errlen, "no such palette channel"); return 1; }
        DcmDataset *ds = file->format.getDataset();
        Uint16 d[3] = {0, 0, 0};
        for (unsigned long i = 0; i < 3; i++) {
            if (ds->findAndGetUint16(descriptors[channel], d[i], i).bad()) {
                setErr(err, errlen, "the palette colour lookup table descriptor is missing (segmented palettes are not supported)");
                return 1;
            }
        }
        info->entries = d[0] == 0 ? 65536 : d[0];
        info->first_mapped = d[1];
        info->bits = d[2];
        DcmElement *element = nullptr;
        if (ds->findAndGetElement(tables[channel], element).bad() || element == nullptr) {
            setErr(err, errlen, "the palette colour lookup table data is missing");
            return 1;
        }
        Uint32 length = element->getLength();
        info->data_bytes = length;
        Uint16 *words = nullptr;
        Uint8 *bytes = nullptr;
        size_t n = info->entries < capacity ? info->entries : capacity;
        if (info->bits == 8 && length == info->entries && element->getUint8Array(bytes).good() && bytes != nullptr) {
            for (size_t i = 0; i < n; i++) dst[i] = bytes[i];
        } else if (element->getUint16Array(words).good() && words != nullptr && length / 2 >= n) {
            for (size_t i = 0; i < n; i++) dst[i] = words[i];
        } else if (element->getUint8Array(bytes).good() && bytes != nullptr && length >= n) {
            for (size_t i = 0; i < n; i++) dst[i] = bytes[i];
        } else {
            setErr(err, errlen, "the palette colour lookup table data is shorter than its descriptor says");
            return 1;
        }
        return 0;
    } catch (...) {
        setErr(err, errlen, "unknown C++ exception reading the palette");
        return 2;
    }
}
