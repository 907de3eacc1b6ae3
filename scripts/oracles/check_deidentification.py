#!/usr/bin/env python3
"""Independent check of `voxelflow deidentify` (Basic Profile) with pydicom and dicom-anonymizer.

Usage: check_deidentification.py INPUT_DIR OUTPUT_DIR KEY_FILE TABLE_TSV
For every DICOM file under INPUT_DIR whose de-identified copy is in OUTPUT_DIR (found by the new SOP Instance
UID, recomputed here from the key with Python's own HMAC-SHA-256), walks the original dataset at every depth
and checks each attribute against PS3.15 Table E.1-1 (TABLE_TSV): X absent, Z present and empty (the patient's
name may hold the pseudonym), D present with another value, U replaced by the keyed UID, unlisted attributes
unchanged, private attributes absent, overlays and curves absent. Then runs dicom-anonymizer on the same
original and checks that every attribute it removes for an X row we removed too, and every attribute it keeps
unchanged outside the table we kept. Prints a JSON summary: {"files", "attributes", "mismatches": [...]}.
"""
import hashlib
import hmac
import json
import os
import pathlib
import sys
import tempfile
import warnings

import pydicom

warnings.simplefilter("ignore")
src_root, out_root, key_file, table_file = sys.argv[1:5]
key = pathlib.Path(key_file).read_text().strip().encode()
rows, masked = {}, []
for line in pathlib.Path(table_file).read_text().splitlines()[2:]:
    g, e, gm, em, action, _ = line.split("\t")
    g, e, gm, em = (int(x, 16) for x in (g, e, gm, em))
    if (gm, em) == (0xFFFF, 0xFFFF):
        rows[g << 16 | e] = action
    else:
        masked.append((g, e, gm, em, action))


def action_for(tag):
    if tag in rows:
        return rows[tag]
    for g, e, gm, em, a in masked:
        if (tag >> 16) & gm == g and (tag & 0xFFFF) & em == e:
            return a
    return None


def new_uid(uid):
    digest = hmac.new(key, ("uid:" + uid).encode(), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


# What the policy does with each action (see DeidentificationPolicy): Z/D → D, X/Z → Z, X/D → X, X/Z/D → Z.
EFFECT = {"X": "X", "X/D": "X", "Z": "Z", "X/Z": "Z", "X/Z/D": "Z", "D": "D", "Z/D": "D", "U": "U", "X/Z/U*": "U"}
mismatches, counted = [], 0
# PatientIdentityRemoved, DeidentificationMethod (earlier values are kept, checked below), its code sequence,
# LongitudinalTemporalInformationModified.
DUMMIES = {"19000101", "19000101000000", "000000", "ANONYMOUS", "ANONYMIZED", "0", "000Y", "urn:anonymized"}
OWN = {0x00120062, 0x00120063, 0x00120064, 0x00280303}


def text(elem):
    v = elem.value
    if v is None:
        return ""
    if isinstance(v, (list, pydicom.multival.MultiValue)):
        return "\\".join(str(x) for x in v)
    return str(v)


def pseudonym_for(ds):
    """The keyed pseudonym: HMAC of the Patient ID (or, without one, of name and birth date)."""
    pid = text(ds["PatientID"]).strip(" \0") if "PatientID" in ds else ""
    if pid:
        identity = pid
    else:
        name = text(ds["PatientName"]).strip(" \0") if "PatientName" in ds else ""
        birth = text(ds["PatientBirthDate"]).strip(" \0") if "PatientBirthDate" in ds else ""
        identity = f"name:{name}|{birth}"
    return "ANON-" + hmac.new(key, ("patient:" + identity).encode(), hashlib.sha256).hexdigest()[:12].upper()


pseudonym = None


def compare_items(elem, got, here):
    """Compares the items of a kept sequence one by one."""
    for i, item in enumerate(elem.value):
        if i < len(got.value):
            compare(item, got.value[i], here + f"[{i}]>")


def compare(orig, out, where):
    global counted
    for elem in orig:
        tag = int(elem.tag)
        here = f"{where}({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.tag.element == 0x0000 or tag in OWN:
            continue  # group lengths are recomputed; the de-identification record is written by the tool
        counted += 1
        present = elem.tag in out
        got = out[elem.tag] if present else None
        if elem.tag.is_private or 0x6000 <= elem.tag.group <= 0x601E:
            if present:
                mismatches.append(f"{here}: private or overlay attribute kept")
            continue
        if tag in (0x00100010, 0x00100020):
            if not present or text(got) != pseudonym:
                mismatches.append(f"{here}: not the pseudonym {pseudonym} ({text(got) if present else 'absent'})")
            continue
        act = action_for(tag)
        effect = EFFECT.get(act) if act else "K"
        if effect == "X":
            if present:
                mismatches.append(f"{here}: {act} but kept")
        elif effect == "Z":
            if not present:
                mismatches.append(f"{here}: {act} but removed")
            elif elem.VR == "SQ":
                if len(got.value) != 0:
                    mismatches.append(f"{here}: {act} sequence not emptied")
            elif text(got) != "":
                mismatches.append(f"{here}: {act} but holds {text(got)!r}")
        elif effect == "D":
            if not present:
                mismatches.append(f"{here}: {act} but removed")
            elif elem.VR == "SQ":
                compare_items(elem, got, here)
            elif text(elem) != "" and text(got) in ("", text(elem)) and text(got) not in DUMMIES:
                mismatches.append(f"{here}: {act} but holds {text(got)!r}")
        elif effect == "U":
            if not present:
                mismatches.append(f"{here}: {act} but removed")
            elif elem.VR == "SQ":
                compare_items(elem, got, here)
            elif elem.VR == "UI":
                want = "\\".join(new_uid(u) if u else "" for u in text(elem).split("\\"))
                if text(got) != want:
                    mismatches.append(f"{here}: UID {text(got)!r}, expected {want!r}")
        else:  # not in the table: kept (sequences are walked)
            if not present:
                mismatches.append(f"{here}: not in the table but removed")
            elif elem.VR == "SQ":
                compare_items(elem, got, here)
            elif elem.VR not in ("OB", "OW", "OF", "OD", "OL", "UN") and text(got) != text(elem) and elem.VR == got.VR:
                mismatches.append(f"{here}: not in the table but changed {text(elem)!r} -> {text(got)!r}")


def anonymizer_check(path, out, where):
    """dicom-anonymizer on the same file: what it removes for X rows and keeps outside the table must match."""
    try:
        from dicomanonymizer import anonymize
    except ImportError:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "a.dcm")
        try:
            anonymize(path, target, {}, True)
            theirs = pydicom.dcmread(target, force=True)
        except Exception as error:  # the other tool failing on a file is not our mismatch
            return False
    orig = pydicom.dcmread(path, force=True)
    for elem in orig:
        tag = int(elem.tag)
        if elem.tag.is_private or 0x6000 <= elem.tag.group <= 0x601E or tag in (0x00100010, 0x00100020) or tag in OWN:
            continue
        if elem.tag.element == 0x0000:
            continue
        act = action_for(tag)
        if act == "X" and elem.tag not in theirs:
            if elem.tag in out:
                mismatches.append(f"{where}({elem.tag.group:04X},{elem.tag.element:04X}): dicom-anonymizer removes it, we keep it")
        if act is None and elem.tag in theirs and elem.VR not in ("SQ", "OB", "OW", "UN") and text(theirs[elem.tag]) == text(elem):
            if elem.tag not in out or text(out[elem.tag]) != text(elem):
                mismatches.append(f"{where}({elem.tag.group:04X},{elem.tag.element:04X}): dicom-anonymizer keeps it, we do not")
    return True


files = compared = 0
survivors = []
paths = sorted(os.path.join(d, n) for d, _, names in os.walk(src_root) for n in names if not n.startswith("."))
seen = set()
for path in paths:
    name = os.path.relpath(path, src_root)
    try:
        orig = pydicom.dcmread(path, force=True)
        sop, study, series = (str(orig[k].value) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"))
    except Exception:
        continue
    if sop in seen:
        continue  # a second copy of an instance: the first in path order is the one written
    seen.add(sop)
    target = os.path.join(out_root, new_uid(study), new_uid(series), new_uid(sop) + ".dcm")
    if not os.path.exists(target):
        continue
    out = pydicom.dcmread(target)
    files += 1
    pseudonym = pseudonym_for(orig)
    compare(orig, out, name + ":")
    if "DeidentificationMethod" in orig and not text(out["DeidentificationMethod"]).startswith(text(orig["DeidentificationMethod"])):
        mismatches.append(f"{name}: the earlier DeidentificationMethod was not kept")
    if out.file_meta.MediaStorageSOPInstanceUID != out.SOPInstanceUID:
        mismatches.append(f"{name}: meta header SOP Instance UID differs from the dataset's")
    compared += anonymizer_check(path, out, name + ":")
    # The patient's identifiers must not occur anywhere in the output file's bytes.
    data = pathlib.Path(target).read_bytes()
    for keyword in ("PatientName", "PatientID", "OtherPatientIDs", "AccessionNumber", "PatientBirthDate",
                    "InstitutionName", "ReferringPhysicianName", "PatientAddress", "StudyID"):
        value = text(orig[keyword]).strip() if keyword in orig else ""
        manufacturer = text(orig["Manufacturer"]) if "Manufacturer" in orig else None  # kept by the profile
        if len(value) >= 6 and "ANONYM" not in value.upper() and value not in DUMMIES and (manufacturer is None or value not in manufacturer) \
                and value.encode() in data:
            survivors.append(f"{name}: {keyword} {value!r} occurs in the output")
print(json.dumps({"files": files, "attributes": counted, "comparedWithDicomAnonymizer": compared, "mismatches": mismatches[:200],
                  "survivors": survivors[:200]}))
