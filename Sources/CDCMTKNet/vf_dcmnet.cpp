// Storage SCP over DCMTK's DcmStorageSCP for VoxelNet (see include/vf_dcmnet.h).
#include "vf_dcmnet.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/dstorscp.h>
#include <dcmtk/oflog/oflog.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

/// True for a UID DCMTK may use as part of a file name: digits and dots only.
bool isPlainUID(const OFString &uid) {
    if (uid.empty() || uid.length() > 64) return false;
    for (size_t i = 0; i < uid.length(); i++) {
        char c = uid[i];
        if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
    }
    return true;
}

class VFStorageSCP : public DcmStorageSCP {
  public:
    explicit VFStorageSCP(const vf_scp_config &config) : config_(config) {}

  protected:
    // Every instance is received under a temporary name; the Swift side files it when it is complete.
    OFCondition generateSTORERequestFilename(const T_DIMSE_C_StoreRQ &request, OFString &filename) override {
        OFString uid(request.AffectedSOPInstanceUID);
        unsigned long n = ++counter_;
        char name[64];
        snprintf(name, sizeof name, "%lu", n);
        filename = OFString(config_.receiving_folder) + "/.recv-" + (isPlainUID(uid) ? uid : OFString("instance")) + "-" + name + ".dcm";
        return EC_Normal;
    }

    void notifyInstanceStored(const OFString &filename, const OFString &sopClassUID, const OFString &sopInstanceUID,
                              DcmDataset * /*dataset*/) const override {
        if (config_.received != NULL) {
            OFString calling = getPeerAETitle();
            config_.received(filename.c_str(), sopClassUID.c_str(), sopInstanceUID.c_str(), calling.c_str(), config_.context);
        }
    }

    OFBool stopAfterConnectionTimeout() override { return shouldStop(); }
    OFBool stopAfterCurrentAssociation() override { return shouldStop(); }

  private:
    OFBool shouldStop() { return config_.should_stop != NULL && config_.should_stop(config_.context) != 0; }

    vf_scp_config config_;
    std::atomic<unsigned long> counter_{0};
};

void copyMessage(char *message, size_t size, const std::string &text) {
    if (message == NULL || size == 0) return;
    snprintf(message, size, "%s", text.c_str());
}

/// Sets up a storage SCP as `config` says: AE title, port, bit-preserving storage, polling, and the storage
/// SOP classes of DCMTK's common list in the usual transfer syntaxes. Returns false with `problem` set.
bool configureStorageSCP(VFStorageSCP &scp, const vf_scp_config &config, std::string &problem) {
    // DCMTK logs to the console by default; the node reports on its own terms.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    scp.setAETitle(config.ae_title);
    scp.setPort(config.port);
    scp.setDatasetStorageMode(DcmStorageSCP::DGM_StoreBitPreserving);
    scp.setConnectionBlockingMode(DUL_NOBLOCK);
    scp.setConnectionTimeout(config.poll_seconds > 0 ? config.poll_seconds : 1);
    scp.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    scp.setDIMSETimeout(config.dimse_timeout > 0 ? config.dimse_timeout : 60);
    scp.setACSETimeout(30);

    OFList<OFString> syntaxes;
    const char *transfer[] = {
        UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
        UID_DeflatedExplicitVRLittleEndianTransferSyntax, UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
        UID_JPEGProcess14TransferSyntax, UID_JPEGProcess14SV1TransferSyntax, UID_JPEGLSLosslessTransferSyntax,
        UID_JPEGLSLossyTransferSyntax, UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
        UID_RLELosslessTransferSyntax,
    };
    for (const char *t : transfer) syntaxes.push_back(t);
    // DcmStorageSCP already offers Verification (C-ECHO); a second entry would make the profile invalid.
    OFCondition cond = EC_Normal;
    // DCMTK's list of the storage SOP classes in common use (120 entries: a presentation context list
    // holds at most 128, so the complete list of 186 does not fit).
    for (int i = 0; cond.good() && i < numberOfDcmLongSCUStorageSOPClassUIDs; i++) {
        cond = scp.addPresentationContext(dcmLongSCUStorageSOPClassUIDs[i], syntaxes);
    }
    if (cond.bad()) {
        problem = std::string("cannot configure the presentation contexts: ") + cond.text();
        return false;
    }
    return true;
}

}  // namespace

int vf_scp_run(const vf_scp_config *config, char *message, size_t message_size) {
    try {
        VFStorageSCP scp(*config);
        std::string problem;
        if (!configureStorageSCP(scp, *config, problem)) {
            copyMessage(message, message_size, problem);
            return -1;
        }
        OFCondition cond = scp.listen();
        if (cond.bad() && !(config->should_stop != NULL && config->should_stop(config->context))) {
            copyMessage(message, message_size, std::string("port ") + std::to_string(config->port) + ": " + cond.text());
            return -1;
        }
        return 0;
    } catch (const std::exception &e) {
        copyMessage(message, message_size, std::string("the listener failed: ") + e.what());
        return -1;
    } catch (...) {
        copyMessage(message, message_size, "the listener failed");
        return -1;
    }
}

// ---------------------------------------------------------------------------------------------------
// Query/retrieve client (Study Root C-FIND and C-GET) over DcmSCU.

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmnet/scu.h>

namespace {

const char *kTransferSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
    UID_DeflatedExplicitVRLittleEndianTransferSyntax, UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
    UID_JPEGProcess14TransferSyntax, UID_JPEGProcess14SV1TransferSyntax, UID_JPEGLSLosslessTransferSyntax,
    UID_JPEGLSLossyTransferSyntax, UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
    UID_RLELosslessTransferSyntax,
};

class VFRetrieveSCU : public DcmSCU {
  public:
    vf_scu_stored stored = NULL;
    void *context = NULL;
    OFString folder;
    unsigned long counter = 0;
    unsigned part = 0;
    OFString lastFile;

  protected:
    // Each C-STORE sub-operation is written under a temporary name, reported when complete.
    OFString createStorageFilename(DcmDataset * /*dataset*/) override {
        char name[64];
        snprintf(name, sizeof name, "/.get-%u-%lu.dcm", part, ++counter);
        lastFile = folder + name;
        return lastFile;
    }

    OFCondition handleSTORERequest(const T_ASC_PresentationContextID presID, DcmDataset *incoming, OFBool &continueSession,
                                   Uint16 &status) override {
        lastFile.clear();
        OFCondition cond = DcmSCU::handleSTORERequest(presID, incoming, continueSession, status);
        if (cond.good() && !lastFile.empty() && stored != NULL) stored(lastFile.c_str(), context);
        return cond;
    }
};

void configure(DcmSCU &scu, const vf_scu_peer &peer) {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    scu.setAETitle(peer.calling_ae_title);
    scu.setPeerAETitle(peer.called_ae_title);
    scu.setPeerHostName(peer.host);
    scu.setPeerPort(peer.port);
    int timeout = peer.timeout > 0 ? peer.timeout : 30;
    scu.setConnectionTimeout(timeout);
    scu.setACSETimeout(timeout);
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    scu.setDIMSETimeout(timeout);
}

OFString text(DcmItem *item, const DcmTagKey &tag) {
    OFString value;
    if (item != NULL) item->findAndGetOFString(tag, value);
    return value;
}

std::string describe(const char *what, const OFCondition &cond) { return std::string(what) + ": " + cond.text(); }

/// Opens the association and returns the presentation context of `abstractSyntax`, or 0 with `message` set
/// (the association is released when the peer refused that context).
T_ASC_PresentationContextID openAssociation(DcmSCU &scu, const char *abstractSyntax, const char *service, char *message,
                                            size_t message_size) {
    OFCondition cond = scu.initNetwork();
    if (cond.good()) cond = scu.negotiateAssociation();
    if (cond.bad()) {
        copyMessage(message, message_size, describe("cannot open an association", cond));
        return 0;
    }
    T_ASC_PresentationContextID id = scu.findPresentationContextID(abstractSyntax, "");
    if (id == 0) {
        scu.releaseAssociation();
        copyMessage(message, message_size, std::string("the peer does not accept ") + service);
    }
    return id;
}

/// The status and sub-operation counts of the last C-GET or C-MOVE response; frees the responses.
Uint16 lastRetrieveStatus(OFList<RetrieveResponse *> &responses, int *completed, int *failed) {
    Uint16 last = 0;
    for (RetrieveResponse *r : responses) {
        *completed = r->m_numberOfCompletedSubops;
        *failed = r->m_numberOfFailedSubops;
        last = r->m_status;
        delete r;
    }
    responses.clear();
    return last;
}

}  // namespace

namespace {

/// One Study Root C-FIND with the keys `fill` puts in; each answer's dataset goes to `each`. Returns 0 when
/// the search completed, -1 otherwise (message says why).
template <typename Fill, typename Each>
int studyRootFind(const vf_scu_peer &peer, Fill fill, Each each, char *message, size_t message_size) {
    try {
        DcmDataset keys;
        fill(keys);
        DcmSCU scu;
        configure(scu, peer);
        OFList<OFString> ts;
        ts.push_back(UID_LittleEndianExplicitTransferSyntax);
        ts.push_back(UID_LittleEndianImplicitTransferSyntax);
        scu.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel, ts);
        T_ASC_PresentationContextID id = openAssociation(scu, UID_FINDStudyRootQueryRetrieveInformationModel, "Study Root C-FIND", message, message_size);
        if (id == 0) return -1;
        OFList<QRResponse *> responses;
        OFCondition cond = scu.sendFINDRequest(id, &keys, &responses);
        int result = 0;
        if (cond.bad()) {
            copyMessage(message, message_size, describe("C-FIND failed", cond));
            result = -1;
        }
        for (QRResponse *r : responses) {
            if (result == 0 && r->m_dataset != NULL) each(r->m_dataset);
            if (result == 0 && r->m_status != 0 && r->m_status != 0xFF00 && r->m_status != 0xFF01) {
                char buffer[96];
                snprintf(buffer, sizeof buffer, "C-FIND ended with status 0x%04x", r->m_status);
                copyMessage(message, message_size, buffer);
                result = -1;
            }
            delete r;
        }
        scu.releaseAssociation();
        return result;
    } catch (const std::exception &e) {
        copyMessage(message, message_size, std::string("C-FIND failed: ") + e.what());
        return -1;
    } catch (...) {
        copyMessage(message, message_size, "C-FIND failed");
        return -1;
    }
}

}  // namespace

int vf_scu_find_series(const vf_scu_peer *peer, const vf_scu_filters *filters, vf_scu_found found, void *context,
                       char *message, size_t message_size) {
    auto fill = [&](DcmDataset &keys) {
        keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, "SERIES");
        keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, "");
        keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, "");
        keys.putAndInsertOFStringArray(DCM_Modality, filters->modality ? filters->modality : "");
        keys.putAndInsertOFStringArray(DCM_SeriesDescription, "");
        keys.putAndInsertOFStringArray(DCM_StudyDate, filters->study_date ? filters->study_date : "");
        keys.putAndInsertOFStringArray(DCM_NumberOfSeriesRelatedInstances, "");
        if (filters->patient_id && filters->patient_id[0]) keys.putAndInsertOFStringArray(DCM_PatientID, filters->patient_id);
        if (filters->accession_number && filters->accession_number[0]) keys.putAndInsertOFStringArray(DCM_AccessionNumber, filters->accession_number);
    };
    return studyRootFind(*peer, fill, [&](DcmDataset *d) {
        if (found == NULL) return;
        OFString count = text(d, DCM_NumberOfSeriesRelatedInstances);
        found(text(d, DCM_StudyInstanceUID).c_str(), text(d, DCM_SeriesInstanceUID).c_str(), text(d, DCM_Modality).c_str(),
              text(d, DCM_SeriesDescription).c_str(), text(d, DCM_StudyDate).c_str(), count.empty() ? -1 : atoi(count.c_str()), context);
    }, message, message_size);
}

int vf_scu_find_instances(const vf_scu_peer *peer, const char *study_uid, const char *series_uid, vf_scu_found_instance found,
                          void *context, char *message, size_t message_size) {
    auto fill = [&](DcmDataset &keys) {
        keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, "IMAGE");
        keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, study_uid);
        keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, series_uid);
        keys.putAndInsertOFStringArray(DCM_SOPInstanceUID, "");
    };
    return studyRootFind(*peer, fill, [&](DcmDataset *d) {
        OFString uid = text(d, DCM_SOPInstanceUID);
        if (found != NULL && !uid.empty()) found(uid.c_str(), context);
    }, message, message_size);
}

int vf_scu_get_series(const vf_scu_peer *peer, const char *study_uid, const char *series_uid, const char *const *instance_uids,
                      size_t instance_count, unsigned part, const char *folder, vf_scu_stored stored, void *context,
                      int *completed, int *failed, char *message, size_t message_size) {
    try {
        VFRetrieveSCU scu;
        configure(scu, *peer);
        scu.part = part;
        scu.stored = stored;
        scu.context = context;
        scu.folder = folder;
        scu.setStorageDir(folder);
        scu.setStorageMode(DCMSCU_STORAGE_DISK);
        OFList<OFString> ts;
        for (const char *t : kTransferSyntaxes) ts.push_back(t);
        OFList<OFString> plain;
        plain.push_back(UID_LittleEndianExplicitTransferSyntax);
        plain.push_back(UID_LittleEndianImplicitTransferSyntax);
        scu.addPresentationContext(UID_GETStudyRootQueryRetrieveInformationModel, plain);
        // The storage classes we can receive as C-STORE sub-operations (SCP role): 120 + 1 ≤ 128 contexts.
        for (int i = 0; i < numberOfDcmLongSCUStorageSOPClassUIDs; i++) {
            scu.addPresentationContext(dcmLongSCUStorageSOPClassUIDs[i], ts, ASC_SC_ROLE_SCP);
        }
        T_ASC_PresentationContextID id = openAssociation(scu, UID_GETStudyRootQueryRetrieveInformationModel, "Study Root C-GET", message, message_size);
        if (id == 0) return -1;
        DcmDataset keys;
        keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, instance_count > 0 ? "IMAGE" : "SERIES");
        keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, study_uid);
        keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, series_uid);
        if (instance_count > 0) {
            // UID list matching: the values joined by backslashes.
            OFString list;
            for (size_t i = 0; i < instance_count; i++) {
                if (i > 0) list += "\\";
                list += instance_uids[i];
            }
            keys.putAndInsertOFStringArray(DCM_SOPInstanceUID, list);
        }
        OFList<RetrieveResponse *> responses;
        OFCondition cond = scu.sendCGETRequest(id, &keys, &responses);
        int result = 0;
        if (cond.bad()) {
            copyMessage(message, message_size, describe("C-GET failed", cond));
            result = -1;
        }
        *completed = 0;
        *failed = 0;
        Uint16 last = lastRetrieveStatus(responses, completed, failed);
        if (result == 0 && last != 0 && last != 0xB000) {
            char buffer[96];
            snprintf(buffer, sizeof buffer, "C-GET ended with status 0x%04x", last);
            copyMessage(message, message_size, buffer);
            result = -1;
        }
        scu.releaseAssociation();
        return result;
    } catch (const std::exception &e) {
        copyMessage(message, message_size, std::string("C-GET failed: ") + e.what());
        return -1;
    } catch (...) {
        copyMessage(message, message_size, "C-GET failed");
        return -1;
    }
}

// ---------------------------------------------------------------------------------------------------
// Storage client (C-STORE SCU) over DcmSCU.

#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <map>
#include <set>
#include <utility>
#include <vector>

namespace {

/// The SOP class and transfer syntax of a file, from its meta header (or its dataset when it has none).
bool describeFile(const char *path, OFString &sopClass, OFString &transferSyntax, std::string &problem) {
    DcmFileFormat file;
    OFCondition cond = file.loadFile(path, EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_metaOnly);
    if (cond.good()) {
        file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, sopClass);
        file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, transferSyntax);
    }
    if (cond.bad() || sopClass.empty() || transferSyntax.empty()) {
        DcmFileFormat whole;
        cond = whole.loadFile(path, EXS_Unknown, EGL_noChange, 0, ERM_autoDetect);
        if (cond.bad()) {
            problem = std::string("not readable as DICOM: ") + cond.text();
            return false;
        }
        whole.getDataset()->findAndGetOFString(DCM_SOPClassUID, sopClass);
        transferSyntax = DcmXfer(whole.getDataset()->getOriginalXfer()).getXferID();
    }
    if (sopClass.empty()) {
        problem = "no SOP Class UID";
        return false;
    }
    return true;
}

bool isUncompressed(const OFString &ts) {
    return ts == UID_LittleEndianExplicitTransferSyntax || ts == UID_LittleEndianImplicitTransferSyntax ||
           ts == UID_BigEndianExplicitTransferSyntax;
}

}  // namespace

int vf_scu_store_files(const vf_scu_peer *peer, const char *const *paths, size_t count, vf_scu_sent sent, void *context,
                       char *message, size_t message_size) {
    try {
        std::vector<OFString> classes(count), syntaxes(count);
        std::vector<bool> usable(count, false);
        // One presentation context per SOP class and transfer syntax kind: uncompressed files may go in any
        // uncompressed syntax (DCMTK converts), compressed ones only in their own.
        std::map<std::pair<std::string, std::string>, bool> contexts;
        for (size_t i = 0; i < count; i++) {
            std::string problem;
            if (!describeFile(paths[i], classes[i], syntaxes[i], problem)) {
                if (sent != NULL) sent(i, -2, problem.c_str(), context);
                continue;
            }
            usable[i] = true;
            std::string kind = isUncompressed(syntaxes[i]) ? std::string() : std::string(syntaxes[i].c_str());
            contexts[std::make_pair(std::string(classes[i].c_str()), kind)] = true;
        }
        if (contexts.empty()) return 0;
        // A presentation context list holds at most 128 entries (odd IDs 1…255).
        if (contexts.size() > 128) {
            copyMessage(message, message_size, "more than 128 kinds of SOP class and transfer syntax in one request; send fewer files at a time");
            return -3;
        }
        DcmSCU scu;
        configure(scu, *peer);
        scu.setDatasetConversionMode(OFTrue);
        for (const auto &entry : contexts) {
            OFList<OFString> ts;
            if (entry.first.second.empty()) {
                ts.push_back(UID_LittleEndianExplicitTransferSyntax);
                ts.push_back(UID_LittleEndianImplicitTransferSyntax);
            } else {
                ts.push_back(entry.first.second.c_str());
            }
            scu.addPresentationContext(entry.first.first.c_str(), ts);
        }
        OFCondition cond = scu.initNetwork();
        if (cond.good()) cond = scu.negotiateAssociation();
        if (cond.bad()) {
            copyMessage(message, message_size, describe("cannot open an association", cond));
            return -1;
        }
        int result = 0;
        for (size_t i = 0; i < count; i++) {
            if (!usable[i]) continue;
            if (result != 0) {
                if (sent != NULL) sent(i, -1, message, context);
                continue;
            }
            T_ASC_PresentationContextID id = scu.findPresentationContextID(classes[i], syntaxes[i]);
            if (id == 0 && isUncompressed(syntaxes[i])) id = scu.findAnyPresentationContextID(classes[i], syntaxes[i]);
            if (id == 0) {
                std::string reason = std::string("the peer accepts no presentation context for SOP class ") + classes[i].c_str() +
                                     " in transfer syntax " + syntaxes[i].c_str();
                if (sent != NULL) sent(i, -2, reason.c_str(), context);
                continue;
            }
            Uint16 status = 0;
            cond = scu.sendSTORERequest(id, paths[i], NULL, status);
            if (cond.bad()) {
                // The association is gone (or the file could not be sent on it): the rest are not sent.
                copyMessage(message, message_size, describe("C-STORE failed", cond));
                if (sent != NULL) sent(i, -1, message, context);
                result = -1;
                continue;
            }
            if (sent != NULL) sent(i, status, "", context);
        }
        if (result == 0) scu.releaseAssociation(); else scu.abortAssociation();
        return result;
    } catch (const std::exception &e) {
        copyMessage(message, message_size, std::string("C-STORE failed: ") + e.what());
        return -1;
    } catch (...) {
        copyMessage(message, message_size, "C-STORE failed");
        return -1;
    }
}

// ---------------------------------------------------------------------------------------------------
// C-MOVE: our own storage SCP listens on the move port while the peer sends the series to it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace {

struct MoveReceiver {
    std::atomic<bool> stop{false};
    vf_scu_stored stored = NULL;
    void *context = NULL;
};

void moveReceived(const char *path, const char * /*sopClass*/, const char * /*sopInstance*/, const char * /*calling*/, void *context) {
    MoveReceiver *receiver = static_cast<MoveReceiver *>(context);
    if (receiver->stored != NULL) receiver->stored(path, receiver->context);
}

int moveShouldStop(void *context) { return static_cast<MoveReceiver *>(context)->stop.load() ? 1 : 0; }

}  // namespace

int vf_scu_move_series(const vf_scu_peer *peer, const char *move_ae_title, unsigned short move_port, const char *study_uid,
                       const char *series_uid, const char *folder, vf_scu_stored stored, void *context, int *completed,
                       int *failed, char *message, size_t message_size) {
    try {
        *completed = 0;
        *failed = 0;
        MoveReceiver receiver;
        receiver.stored = stored;
        receiver.context = context;
        vf_scp_config config;
        config.ae_title = move_ae_title;
        config.port = move_port;
        config.receiving_folder = folder;
        config.poll_seconds = 1;
        config.dimse_timeout = peer->timeout > 0 ? peer->timeout : 30;
        config.received = moveReceived;
        config.should_stop = moveShouldStop;
        config.context = &receiver;
        VFStorageSCP scp(config);
        std::string problem;
        if (!configureStorageSCP(scp, config, problem)) {
            copyMessage(message, message_size, problem);
            return -1;
        }
        // The port is open before the request goes out, so the peer's first association finds it.
        OFCondition cond = scp.openListenPort();
        if (cond.bad()) {
            copyMessage(message, message_size, std::string("cannot listen on port ") + std::to_string(move_port) + " for C-MOVE: " + cond.text());
            return -1;
        }
        std::thread listener([&scp]() { scp.acceptAssociations(); });
        struct Join {
            MoveReceiver &receiver;
            std::thread &thread;
            unsigned short port;
            ~Join() {
                receiver.stop = true;
                // The listener notices the stop when its wait for an association ends: a connection that
                // closes at once ends it now instead of at the next one-second poll.
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                if (fd >= 0) {
                    struct sockaddr_in address;
                    memset(&address, 0, sizeof address);
                    address.sin_family = AF_INET;
                    address.sin_port = htons(port);
                    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                    connect(fd, reinterpret_cast<struct sockaddr *>(&address), sizeof address);
                    close(fd);
                }
                if (thread.joinable()) thread.join();
            }
        } join{receiver, listener, move_port};

        DcmSCU scu;
        configure(scu, *peer);
        OFList<OFString> plain;
        plain.push_back(UID_LittleEndianExplicitTransferSyntax);
        plain.push_back(UID_LittleEndianImplicitTransferSyntax);
        scu.addPresentationContext(UID_MOVEStudyRootQueryRetrieveInformationModel, plain);
        T_ASC_PresentationContextID id = openAssociation(scu, UID_MOVEStudyRootQueryRetrieveInformationModel, "Study Root C-MOVE", message, message_size);
        if (id == 0) return -1;
        DcmDataset keys;
        keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, "SERIES");
        keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, study_uid);
        keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, series_uid);
        OFList<RetrieveResponse *> responses;
        cond = scu.sendMOVERequest(id, move_ae_title, &keys, &responses);
        int result = 0;
        if (cond.bad()) {
            copyMessage(message, message_size, describe("C-MOVE failed", cond));
            result = -1;
        }
        Uint16 last = lastRetrieveStatus(responses, completed, failed);
        if (result == 0 && last != 0 && last != 0xB000) {
            char buffer[224];
            if (last == 0xA801) {
                snprintf(buffer, sizeof buffer, "C-MOVE refused: the peer does not know the destination AE title %s (status 0xa801)", move_ae_title);
            } else if ((last & 0xF000) == 0xC000 && *completed == 0) {
                snprintf(buffer, sizeof buffer, "C-MOVE to %s failed with status 0x%04x, nothing sent: does the peer know %s as this host and port %u?",
                         move_ae_title, last, move_ae_title, (unsigned)move_port);
            } else {
                snprintf(buffer, sizeof buffer, "C-MOVE ended with status 0x%04x", last);
            }
            copyMessage(message, message_size, buffer);
            result = -2;
        }
        scu.releaseAssociation();
        return result;
    } catch (const std::exception &e) {
        copyMessage(message, message_size, std::string("C-MOVE failed: ") + e.what());
        return -1;
    } catch (...) {
        copyMessage(message, message_size, "C-MOVE failed");
        return -1;
    }
}
