// CDCMTK shim: the mechanics of de-identification (see vf_dcmtk.h). The shim only walks a loaded dataset,
// applies the action the caller's policy returns for each element, and saves the result; what happens to
// which attribute is decided on the Swift side (VoxelIO's Deidentification), from PS3.15 Annex E.
#include "vf_dcmtk_internal.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dctk.h>

namespace {
void setErr(char *err, size_t errlen, const std::string &msg) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", msg.c_str());
}

/// Runs `body` on the file's dataset, turning a missing dataset and C++ exceptions into a status and message
/// (0 success, 1 failure reported by `body` or no dataset, 2 exception).
template <typename Body>
int guarded(vf_dicom_file *file, char *err, size_t errlen, Body body) {
    return vf_guarded(err, errlen, static_cast<int>(2), [&]() -> int {
        DcmDataset *ds = file->format.getDataset();
        if (ds == nullptr) {
            setErr(err, errlen, "the file has no dataset");
            return 1;
        }
        return body(*ds);
    });
}

/// Replacement values are limited to this many bytes (a DICOM LT holds 10240 characters; UT more, but no
/// de-identified value needs that).
constexpr size_t kReplacementCapacity = 16384;

/// The text of an element with a text VR, or of an element read as UN (unknown VR, as in explicit-VR files
/// written by tools that did not know the attribute) whose dictionary VR is text. Returns false for others.
bool elementText(DcmElement *el, OFString &value, bool &fromUN) {
    fromUN = false;
    value.clear();
    if (el->ident() == EVR_SQ) return false;
    if (el->isaString()) {
        if (el->getOFStringArray(value).bad()) value.clear();
        return true;
    }
    const DcmTagKey key = el->getTag().getXTag();
    if (el->ident() != EVR_UN || key.isPrivate()) return false;
    DcmTag dictionary(key);
    if (!dictionary.getVR().isaString()) return false;
    Uint8 *bytes = nullptr;
    if (el->getUint8Array(bytes).bad()) return false;
    std::string text(reinterpret_cast<const char *>(bytes), bytes != nullptr ? el->getLength() : 0);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
    value = text.c_str();
    fromUN = true;
    return true;
}

/// Visits every element of `item` (and, when the policy keeps a sequence, every element of its items).
/// Returns 0, or non-zero when the callback asked to stop.
int walk(DcmItem &item, int depth, vf_deid_callback callback, void *context, std::vector<char> &replacement) {
    // Private creators of this item first: the policy may remove a creator element before its block.
    std::map<std::pair<Uint16, Uint16>, std::string> creators;
    for (unsigned long i = 0; i < item.card(); ++i) {
        DcmElement *el = item.getElement(i);
        if (el == nullptr) continue;
        const DcmTagKey key = el->getTag().getXTag();
        if (key.isPrivateReservation()) {
            OFString value;
            el->getOFStringArray(value);
            creators[{key.getGroup(), key.getElement()}] = value.c_str();
        }
    }
    unsigned long i = 0;
    while (i < item.card()) {
        DcmElement *el = item.getElement(i);
        if (el == nullptr) { ++i; continue; }
        const DcmTag &tag = el->getTag();
        const DcmTagKey key = tag.getXTag();
        vf_deid_element info;
        std::memset(&info, 0, sizeof(info));
        info.group = key.getGroup();
        info.element = key.getElement();
        const char *vrName = DcmVR(el->getVR()).getVRName();
        std::snprintf(info.vr, sizeof(info.vr), "%s", vrName != nullptr ? vrName : "UN");
        info.is_sequence = el->ident() == EVR_SQ ? 1 : 0;
        info.depth = depth;
        std::string creator;
        if (key.isPrivate() && !key.isPrivateReservation() && key.getElement() >= 0x1000) {
            auto found = creators.find({key.getGroup(), static_cast<Uint16>(key.getElement() >> 8)});
            creator = found != creators.end() ? found->second : std::string();
            info.private_creator = creator.c_str();
        }
        OFString value;
        bool fromUN = false;
        const bool isString = elementText(el, value, fromUN);
        if (isString) info.value = value.c_str();
        if (fromUN) {
            // Reported, and written back, with the VR of the data dictionary.
            const char *dictionaryVR = DcmTag(key).getVR().getVRName();
            std::snprintf(info.vr, sizeof(info.vr), "%s", dictionaryVR != nullptr ? dictionaryVR : "UN");
        }
        replacement[0] = 0;
        const int action = callback(context, &info, replacement.data(), replacement.size());
        switch (action) {
        case VF_DEID_STOP:
            return 1;
        case VF_DEID_REMOVE:
            delete item.remove(i);
            continue;  // the next element moved into position i
        case VF_DEID_REPLACE:
            if (fromUN) {
                replacement[replacement.size() - 1] = 0;
                item.putAndInsertString(key, replacement.data(), OFTrue);
            } else if (isString) {
                replacement[replacement.size() - 1] = 0;
                el->putString(replacement.data());
            } else if (info.is_sequence) {
                static_cast<DcmSequenceOfItems *>(el)->clear();
            } else {
                el->clear();
            }
            break;
        case VF_DEID_EMPTY:
            if (info.is_sequence) {
                static_cast<DcmSequenceOfItems *>(el)->clear();
            } else if (fromUN) {
                item.putAndInsertString(key, "", OFTrue);
            } else if (isString) {
                el->putString("");
            } else {
                el->clear();
            }
            break;
        default:  // VF_DEID_KEEP: a kept sequence is walked item by item
            if (fromUN) {
                item.putAndInsertString(key, value.c_str(), OFTrue);
            } else if (info.is_sequence) {
                auto *sequence = static_cast<DcmSequenceOfItems *>(el);
                // Item after item (indexing a DCMTK sequence walks its list each time: quadratic).
                DcmObject *child = nullptr;
                while ((child = sequence->nextInContainer(child)) != nullptr) {
                    if (walk(*static_cast<DcmItem *>(child), depth + 1, callback, context, replacement) != 0) return 1;
                }
            }
            break;
        }
        ++i;
    }
    return 0;
}
}  // namespace

extern "C" int vf_dicom_get_string(vf_dicom_file *file, uint16_t group, uint16_t element, char *out, size_t capacity) {
    if (capacity > 0) out[0] = 0;
    try {
        DcmDataset *ds = file->format.getDataset();
        OFString value;
        DcmElement *el = nullptr;
        bool fromUN = false;
        if (ds == nullptr || ds->findAndGetElement(DcmTagKey(group, element), el).bad() || el == nullptr) return 1;
        if (!elementText(el, value, fromUN)) return 1;
        if (value.size() + 1 > capacity) return 2;
        std::snprintf(out, capacity, "%s", value.c_str());
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int vf_dicom_has_element(vf_dicom_file *file, uint16_t group, uint16_t element) {
    try {
        DcmDataset *ds = file->format.getDataset();
        return ds != nullptr && ds->tagExists(DcmTagKey(group, element)) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

extern "C" int vf_deid_walk(vf_dicom_file *file, vf_deid_callback callback, void *context, char *err, size_t errlen) {
    return guarded(file, err, errlen, [&](DcmDataset &ds) {
        std::vector<char> replacement(kReplacementCapacity, 0);
        if (walk(ds, 0, callback, context, replacement) != 0) {
            setErr(err, errlen, "stopped by the de-identification policy");
            return 1;
        }
        return 0;
    });
}

extern "C" int vf_deid_finish(vf_dicom_file *file, const char *method, const vf_deid_code *codes, size_t count,
                              const char *temporal_information) {
    try {
        DcmDataset *ds = file->format.getDataset();
        if (ds == nullptr) return 1;
        ds->putAndInsertString(DCM_PatientIdentityRemoved, "YES");
        // An earlier de-identification's record is kept: this one is added as a further value and items.
        OFString earlier;
        if (ds->findAndGetOFStringArray(DCM_DeidentificationMethod, earlier).good() && !earlier.empty()) {
            ds->putAndInsertOFStringArray(DCM_DeidentificationMethod, earlier + "\\" + method);
        } else {
            ds->putAndInsertString(DCM_DeidentificationMethod, method);
        }
        for (size_t n = 0; n < count; ++n) {
            DcmItem *item = nullptr;
            if (ds->findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, item, -2).bad() || item == nullptr) return 1;
            item->putAndInsertString(DCM_CodeValue, codes[n].value);
            item->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
            item->putAndInsertString(DCM_CodeMeaning, codes[n].meaning);
        }
        if (temporal_information != nullptr && temporal_information[0] != 0) {
            ds->putAndInsertString(DCM_LongitudinalTemporalInformationModified, temporal_information);
        }
        return 0;
    } catch (...) {
        return 2;
    }
}

extern "C" int vf_deid_save(vf_dicom_file *file, const char *path, char *err, size_t errlen) {
    return guarded(file, err, errlen, [&](DcmDataset &ds) {
        E_TransferSyntax xfer = ds.getOriginalXfer();
        if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
        // The meta header is rebuilt from the dataset: the new SOP Instance UID, and nothing of the sender
        // (Source AE Title, private information) survives.
        file->format.getMetaInfo()->clear();
        OFCondition status = file->format.saveFile(path, xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0, EWM_fileformat);
        if (status.bad()) {
            setErr(err, errlen, status.text());
            return 1;
        }
        return 0;
    });
}
