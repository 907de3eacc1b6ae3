// CDCMTK shim: JPEG 2000 frames, taken from DCMTK's pixel sequence and decoded with OpenJPEG.
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <openjpeg-2.5/openjpeg.h>

namespace {

struct MemoryStream {
    const unsigned char *data;
    size_t size;
    size_t pos;
};

OPJ_SIZE_T readBytes(void *buffer, OPJ_SIZE_T n, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (m->pos >= m->size) return static_cast<OPJ_SIZE_T>(-1);
    size_t k = std::min(static_cast<size_t>(n), m->size - m->pos);
    std::memcpy(buffer, m->data + m->pos, k);
    m->pos += k;
    return k;
}

OPJ_OFF_T skipBytes(OPJ_OFF_T n, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (n < 0) return -1;
    size_t k = std::min(static_cast<size_t>(n), m->size - m->pos);
    m->pos += k;
    return static_cast<OPJ_OFF_T>(k);
}

OPJ_BOOL seekBytes(OPJ_OFF_T n, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (n < 0 || static_cast<size_t>(n) > m->size) return OPJ_FALSE;
    m->pos = static_cast<size_t>(n);
    return OPJ_TRUE;
}

void keepMessage(const char *msg, void *user) {
    auto *s = static_cast<std::string *>(user);
    if (s->empty() && msg != nullptr) {
        *s = msg;
        while (!s->empty() && (s->back() == '\n' || s->back() == ' ')) s->pop_back();
    }
}

bool startsFrame(const Uint8 *p, Uint32 n) {
    static const unsigned char jp2[] = {0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20};
    return (n >= 2 && p[0] == 0xff && p[1] == 0x4f) || (n >= 8 && std::memcmp(p, jp2, 8) == 0);
}

void setErr(char *err, size_t errlen, const std::string &msg) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", msg.c_str());
}

/// Decodes one codestream into `dst` (one frame). Returns an empty string or the reason it failed.
std::string decodeOne(const std::vector<unsigned char> &code, const vf_pixel_info &info, unsigned char *dst) {
    if (code.size() < 2) return "empty JPEG 2000 frame";
    MemoryStream mem{code.data(), code.size(), 0};
    bool isJP2 = code.size() >= 8 && code[0] == 0 && code[4] == 0x6a;
    opj_codec_t *codec = opj_create_decompress(isJP2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    opj_stream_t *stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_image_t *image = nullptr;
    std::string error;
    opj_set_error_handler(codec, keepMessage, &error);
    opj_stream_set_user_data(stream, &mem, nullptr);
    opj_stream_set_user_data_length(stream, code.size());
    opj_stream_set_read_function(stream, readBytes);
    opj_stream_set_skip_function(stream, skipBytes);
    opj_stream_set_seek_function(stream, seekBytes);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    std::string why;
    if (!opj_setup_decoder(codec, &params) || !opj_read_header(stream, codec, &image)) {
        why = error.empty() ? "OpenJPEG could not read the frame's header" : "OpenJPEG: " + error;
    } else if (image->x1 <= image->x0 || image->y1 <= image->y0 || image->x1 - image->x0 != info.columns ||
               image->y1 - image->y0 != info.rows || image->numcomps != info.samples_per_pixel) {
        // Checked before decoding: OpenJPEG sizes its buffers from the codestream, so a frame claiming a
        // larger image than the DICOM header would allocate for that (found by fuzzing: 3.7 GB for a 3 KB file).
        why = "the JPEG 2000 frame is " + std::to_string(image->x1 - image->x0) + " x " + std::to_string(image->y1 - image->y0) +
              " with " + std::to_string(image->numcomps) + " component(s); Columns x Rows is " + std::to_string(info.columns) +
              " x " + std::to_string(info.rows) + " with SamplesPerPixel " + std::to_string(info.samples_per_pixel);
    } else if (!opj_decode(codec, stream, image) || !opj_end_decompress(codec, stream)) {
        why = error.empty() ? "OpenJPEG could not decode the frame" : "OpenJPEG: " + error;
    } else if (image->numcomps != info.samples_per_pixel) {
        why = "the JPEG 2000 frame has " + std::to_string(image->numcomps) + " components, SamplesPerPixel is " +
              std::to_string(info.samples_per_pixel);
    } else {
        for (OPJ_UINT32 c = 0; c < image->numcomps && why.empty(); c++) {
            if (image->comps[c].w != info.columns || image->comps[c].h != info.rows || image->comps[c].data == nullptr) {
                why = "the JPEG 2000 frame size does not match Rows x Columns";
            }
        }
    }
    if (why.empty()) {
        size_t pixels = static_cast<size_t>(info.rows) * info.columns;
        unsigned samples = info.samples_per_pixel;
        unsigned bytes = info.bits_allocated / 8;
        for (unsigned c = 0; c < samples; c++) {
            const OPJ_INT32 *src = image->comps[c].data;
            for (size_t i = 0; i < pixels; i++) {
                uint32_t v = static_cast<uint32_t>(src[i]);
                unsigned char *out = dst + (i * samples + c) * bytes;
                if (bytes == 1) {
                    out[0] = static_cast<unsigned char>(v);
                } else if (bytes == 2) {
                    uint16_t w = static_cast<uint16_t>(v);
                    std::memcpy(out, &w, 2);
                } else {
                    std::memcpy(out, &v, 4);
                }
            }
        }
    }
    if (image) opj_image_destroy(image);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    return why;
}

}  // namespace

int vf_j2k_decode_frames(DcmPixelData *pixels, const vf_pixel_info &info, unsigned char *dst,
                         char *color_model, size_t color_len, char *err, size_t errlen) {
    if (info.bits_allocated != 8 && info.bits_allocated != 16 && info.bits_allocated != 32) {
        setErr(err, errlen, "JPEG 2000 with BitsAllocated " + std::to_string(info.bits_allocated) + " is not supported");
        return 1;
    }
    DcmPixelSequence *sequence = nullptr;
    const DcmRepresentationParameter *param = nullptr;
    DcmXfer xfer(info.transfer_syntax_uid);
    if (pixels->getEncapsulatedRepresentation(xfer.getXfer(), param, sequence).bad() || sequence == nullptr) {
        setErr(err, errlen, "no encapsulated JPEG 2000 fragments found");
        return 1;
    }
    // Fragment 0 is the offset table; frames start at fragments beginning with a J2K or JP2 signature.
    unsigned long count = sequence->card();
    std::vector<std::vector<unsigned char>> frames;
    for (unsigned long n = 1; n < count; n++) {
        DcmPixelItem *item = nullptr;
        Uint8 *data = nullptr;
        if (sequence->getItem(item, n).bad() || item == nullptr || item->getUint8Array(data).bad()) continue;
        Uint32 length = item->getLength();
        if (data == nullptr || length == 0) continue;
        bool newFrame = frames.empty() || (info.frames > 1 && startsFrame(data, length) && frames.size() < info.frames);
        if (newFrame) frames.emplace_back();
        frames.back().insert(frames.back().end(), data, data + length);
    }
    if (frames.size() != info.frames) {
        setErr(err, errlen, "found " + std::to_string(frames.size()) + " JPEG 2000 frames, NumberOfFrames is " +
                                std::to_string(info.frames));
        return 1;
    }
    for (size_t f = 0; f < frames.size(); f++) {
        std::string why = decodeOne(frames[f], info, dst + f * info.frame_bytes);
        if (!why.empty()) {
            setErr(err, errlen, "frame " + std::to_string(f + 1) + ": " + why);
            return 1;
        }
    }
    // OpenJPEG undoes the multi-component transform, so YBR_ICT/YBR_RCT data comes out as RGB.
    const char *pi = info.photometric_interpretation;
    bool wasYBR = std::strncmp(pi, "YBR_ICT", 7) == 0 || std::strncmp(pi, "YBR_RCT", 7) == 0;
    std::snprintf(color_model, color_len, "%s", wasYBR ? "RGB" : pi);
    return 0;
}
