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

}  // namespace

int vf_scp_run(const vf_scp_config *config, char *message, size_t message_size) {
    try {
        // DCMTK logs to the console by default; the node reports on its own terms.
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        VFStorageSCP scp(*config);
        scp.setAETitle(config->ae_title);
        scp.setPort(config->port);
        scp.setDatasetStorageMode(DcmStorageSCP::DGM_StoreBitPreserving);
        scp.setConnectionBlockingMode(DUL_NOBLOCK);
        scp.setConnectionTimeout(config->poll_seconds > 0 ? config->poll_seconds : 1);
        scp.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        scp.setDIMSETimeout(config->dimse_timeout > 0 ? config->dimse_timeout : 60);
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
            copyMessage(message, message_size, std::string("cannot configure the presentation contexts: ") + cond.text());
            return -1;
        }
        cond = scp.listen();
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
    OFString lastFile;

  protected:
    // Each C-STORE sub-operation is written under a temporary name, reported when complete.
    OFString createStorageFilename(DcmDataset * /*dataset*/) override {
        char name[64];
        snprintf(name, sizeof name, "/.get-%lu.dcm", ++counter);
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

}  // namespace

int vf_scu_find_series(const vf_scu_peer *peer, const vf_scu_filters *filters, vf_scu_found found, void *context,
                       char *message, size_t message_size) {
    try {
        DcmSCU scu;
        configure(scu, *peer);
        OFList<OFString> ts;
        ts.push_back(UID_LittleEndianExplicitTransferSyntax);
        ts.push_back(UID_LittleEndianImplicitTransferSyntax);
        scu.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel, ts);
        T_ASC_PresentationContextID id = openAssociation(scu, UID_FINDStudyRootQueryRetrieveInformationModel, "Study Root C-FIND", message, message_size);
        if (id == 0) return -1;
        DcmDataset keys;
        keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, "SERIES");
        keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, "");
        keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, "");
        keys.putAndInsertOFStringArray(DCM_Modality, filters->modality ? filters->modality : "");
        keys.putAndInsertOFStringArray(DCM_SeriesDescription, "");
        keys.putAndInsertOFStringArray(DCM_StudyDate, filters->study_date ? filters->study_date : "");
        keys.putAndInsertOFStringArray(DCM_NumberOfSeriesRelatedInstances, "");
        if (filters->patient_id && filters->patient_id[0]) keys.putAndInsertOFStringArray(DCM_PatientID, filters->patient_id);
        if (filters->accession_number && filters->accession_number[0]) keys.putAndInsertOFStringArray(DCM_AccessionNumber, filters->accession_number);
        OFList<QRResponse *> responses;
        OFCondition cond = scu.sendFINDRequest(id, &keys, &responses);
        int result = 0;
        if (cond.bad()) {
            copyMessage(message, message_size, describe("C-FIND failed", cond));
            result = -1;
        }
        for (QRResponse *r : responses) {
            if (result == 0 && r->m_dataset != NULL && found != NULL) {
                OFString count = text(r->m_dataset, DCM_NumberOfSeriesRelatedInstances);
                found(text(r->m_dataset, DCM_StudyInstanceUID).c_str(), text(r->m_dataset, DCM_SeriesInstanceUID).c_str(),
                      text(r->m_dataset, DCM_Modality).c_str(), text(r->m_dataset, DCM_SeriesDescription).c_str(),
                      text(r->m_dataset, DCM_StudyDate).c_str(), count.empty() ? -1 : atoi(count.c_str()), context);
            }
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

int vf_scu_get_series(const vf_scu_peer *peer, const char *study_uid, const char *series_uid, const char *folder,
                      vf_scu_stored stored, void *context, int *completed, int *failed, char *message, size_t message_size) {
    try {
        VFRetrieveSCU scu;
        configure(scu, *peer);
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
        keys.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, "SERIES");
        keys.putAndInsertOFStringArray(DCM_StudyInstanceUID, study_uid);
        keys.putAndInsertOFStringArray(DCM_SeriesInstanceUID, series_uid);
        OFList<RetrieveResponse *> responses;
        OFCondition cond = scu.sendCGETRequest(id, &keys, &responses);
        int result = 0;
        if (cond.bad()) {
            copyMessage(message, message_size, describe("C-GET failed", cond));
            result = -1;
        }
        *completed = 0;
        *failed = 0;
        Uint16 last = 0;
        for (RetrieveResponse *r : responses) {
            *completed = r->m_numberOfCompletedSubops;
            *failed = r->m_numberOfFailedSubops;
            last = r->m_status;
            delete r;
        }
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
