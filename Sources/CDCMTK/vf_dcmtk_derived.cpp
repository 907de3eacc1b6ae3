// CDCMTK shim: what every derived object VoxelFlow writes (SEG, RTSTRUCT, Secondary Capture) takes from its
// source image — patient, study and frame of reference — and the time it was made.
#include "vf_dcmtk_internal.h"

#include <ctime>

#include <dcmtk/dcmdata/dctk.h>

namespace {
const DcmTagKey copiedTags[] = {
    DCM_SpecificCharacterSet, DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_PatientAge,
    DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber,
    DCM_StudyDescription, DCM_FrameOfReferenceUID, DCM_PositionReferenceIndicator,
};
const DcmTagKey typeTwoTags[] = {
    DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate, DCM_StudyTime,
    DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber, DCM_PositionReferenceIndicator,
};
}  // namespace

void vf_copy_patient_study(DcmItem &src, DcmItem &dst, std::initializer_list<DcmTagKey> extraEmpty) {
    for (const DcmTagKey &tag : copiedTags) {
        DcmElement *element = nullptr;
        if (src.findAndGetElement(tag, element).good() && element != nullptr) dst.insert(OFstatic_cast(DcmElement *, element->clone()), OFTrue);
    }
    for (const DcmTagKey &tag : typeTwoTags) {
        if (!dst.tagExists(tag)) dst.insertEmptyElement(tag);
    }
    for (const DcmTagKey &tag : extraEmpty) {
        if (!dst.tagExists(tag)) dst.insertEmptyElement(tag);
    }
}

void vf_utc_now(char date[9], char time[7]) {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::strftime(date, 9, "%Y%m%d", &utc);
    std::strftime(time, 7, "%H%M%S", &utc);
}
