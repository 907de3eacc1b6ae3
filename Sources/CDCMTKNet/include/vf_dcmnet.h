// A C interface over DCMTK's network module (dcmnet) for VoxelNet: a storage SCP that receives C-STORE
// requests into a folder, and C-FIND, C-GET, C-MOVE and C-STORE as a client. Nothing of DCMTK's C++
// crosses this header. Kept apart from the CDCMTK bridge so that only the networking module links dcmnet.
#ifndef VF_DCMNET_H
#define VF_DCMNET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Called after each instance has been received completely and written to `path` (a temporary name in the
/// receiving folder, which the callee renames or removes). Runs on the listening thread.
typedef void (*vf_scp_received)(const char *path, const char *sop_class_uid, const char *sop_instance_uid,
                                const char *calling_ae_title, void *context);
/// Polled about once per `poll_seconds` and after each association; nonzero stops the listener.
typedef int (*vf_scp_should_stop)(void *context);

typedef struct {
    /// The AE title this node answers to.
    const char *ae_title;
    unsigned short port;
    /// Folder that receives the instances under temporary names (`.recv-…`).
    const char *receiving_folder;
    /// Seconds between polls of should_stop while no association is open (at least 1).
    int poll_seconds;
    /// Seconds a peer may stay silent inside an association before it is dropped (0: 60).
    int dimse_timeout;
    vf_scp_received received;
    vf_scp_should_stop should_stop;
    void *context;
} vf_scp_config;

/// Listens until should_stop returns nonzero. Accepts C-ECHO and C-STORE of the 120 storage SOP classes of
/// DCMTK's common list (CT, MR, PET, NM, US, XA, CR/DX/MG, SC, SEG, RT, SR, enhanced and legacy-converted
/// objects…), in the uncompressed and the usual compressed transfer syntaxes; files are written exactly as
/// received (bit-preserving). Returns 0 after a requested stop, -1 when the port cannot be opened or the
/// listener fails (message says why).
int vf_scp_run(const vf_scp_config *config, char *message, size_t message_size);

/// The peer of a query/retrieve client (Study Root C-FIND and C-GET).
typedef struct {
    const char *host;
    unsigned short port;
    /// Our AE title and the peer's.
    const char *calling_ae_title;
    const char *called_ae_title;
    /// Seconds for connecting and for each DIMSE message (0: 30).
    int timeout;
} vf_scu_peer;

/// Series-level C-FIND filters; NULL or empty means any.
typedef struct {
    const char *modality;
    const char *study_date;
    const char *patient_id;
    const char *accession_number;
} vf_scu_filters;

/// One series found: UIDs, modality, description, study date, number of instances (-1 when not given).
typedef void (*vf_scu_found)(const char *study_uid, const char *series_uid, const char *modality, const char *description,
                             const char *study_date, int instances, void *context);

/// Study Root C-FIND at SERIES level. Returns 0 when the search completed, -1 otherwise (message says why).
int vf_scu_find_series(const vf_scu_peer *peer, const vf_scu_filters *filters, vf_scu_found found, void *context,
                       char *message, size_t message_size);

/// One instance found: its SOP Instance UID.
typedef void (*vf_scu_found_instance)(const char *sop_instance_uid, void *context);

/// Study Root C-FIND at IMAGE level: the SOP Instance UIDs of one series. Returns 0 when the search
/// completed, -1 otherwise (message says why).
int vf_scu_find_instances(const vf_scu_peer *peer, const char *study_uid, const char *series_uid, vf_scu_found_instance found,
                          void *context, char *message, size_t message_size);

/// Called after each instance of a C-GET is written to `path` (a temporary name the callee renames).
typedef void (*vf_scu_stored)(const char *path, void *context);

/// Study Root C-GET of one series into `folder` (instances arrive as C-STORE sub-operations on the same
/// association, for the storage SOP classes of DCMTK's common list). With `instance_count` > 0, only the
/// instances `instance_uids` of the series (IMAGE level, a UID list), so that several associations can
/// share a series; `part` keeps the temporary names of simultaneous calls into one folder apart.
/// `completed` and `failed` receive the peer's final sub-operation counts. Returns 0 when the retrieval
/// completed (even with failed sub-operations), -1 otherwise.
int vf_scu_get_series(const vf_scu_peer *peer, const char *study_uid, const char *series_uid, const char *const *instance_uids,
                      size_t instance_count, unsigned part, const char *folder, vf_scu_stored stored, void *context,
                      int *completed, int *failed, char *message, size_t message_size);

/// Study Root C-MOVE of one series to `move_ae_title`, which the peer must know as this host and
/// `move_port`: for the duration of the request a storage SCP with that AE title listens on the port and
/// writes the instances into `folder` under temporary names, each reported to `stored` (on the listening
/// thread) when complete. `completed` and `failed` receive the peer's final sub-operation counts.
/// Returns 0 when the retrieval completed (even with failed sub-operations), -1 when the port cannot be
/// opened or the association fails, -2 when the peer refused the request (e.g. an unknown destination).
int vf_scu_move_series(const vf_scu_peer *peer, const char *move_ae_title, unsigned short move_port, const char *study_uid,
                       const char *series_uid, const char *folder, vf_scu_stored stored, void *context, int *completed,
                       int *failed, char *message, size_t message_size);

/// Called once per file of a C-STORE request: its index in `paths`, the DIMSE status the peer answered
/// (0 stored; 0xB000, 0xB006, 0xB007 stored with a warning; other values failed), or -1 when the file was
/// not sent because the association failed, -2 when it cannot be sent at all (unreadable, or no
/// presentation context accepted for it); `reason` says why for negative values.
typedef void (*vf_scu_sent)(size_t index, int status, const char *reason, void *context);

/// Sends `paths` by C-STORE on one association (one presentation context per SOP class: uncompressed
/// files in explicit or implicit little endian, converted as the peer accepts; compressed files in their
/// own transfer syntax). Returns 0 when the association completed, -1 when it could not be opened or
/// broke (the files not yet sent are reported with -1), -3 when the files need more than 128
/// presentation contexts.
int vf_scu_store_files(const vf_scu_peer *peer, const char *const *paths, size_t count, vf_scu_sent sent, void *context,
                       char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
