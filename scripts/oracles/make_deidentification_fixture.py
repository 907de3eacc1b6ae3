#!/usr/bin/env python3
"""Writes Tests/Fixtures/deidentification/identifiers.dcm: a small CT image that carries an identifying value
in every attribute of PS3.15 Table E.1-1 that has a text VR (plus sequences, private blocks, an overlay, a
curve and elements stored with VR UN), and identifiers.json listing each planted value with its tag.
The de-identification tests check that none of the planted values survives anywhere in the output bytes.
Usage: .venv-oracles/bin/python scripts/oracles/make_deidentification_fixture.py
"""
import json
import pathlib

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/Fixtures/deidentification"
table = [l.split("\t") for l in (OUT / "annex-e-table.tsv").read_text().splitlines()[2:]]

ds = Dataset()
planted = []  # (tag text, value) of every identifying value placed in the file


def marker(n, vr):
    """A value of the VR that occurs nowhere else in the file."""
    if vr == "DA":
        return f"{1300 + n:04d}0101", True  # a year of its own for every date
    if vr == "DT":
        return f"19870304{n % 24:02d}{n % 60:02d}11.5", True
    if vr == "TM":
        return f"{n % 24:02d}{n % 60:02d}59.{n:04d}", True
    if vr == "UI":
        return f"1.2.826.0.1.3680043.10.999.{n}", True
    if vr == "PN":
        return f"Planted^Person{n:04d}", True
    if vr == "CS":
        return f"PLANTED{n:04d}", True
    if vr == "AS":
        return "042Y", False
    if vr in ("DS", "IS"):
        return str(1000 + n), False
    if vr == "SH":
        return f"PlantedSH{n:04d}", True
    if vr == "AE":
        return f"AE{n:04d}", True
    if vr == "UR":
        return f"http://planted.example/{n:04d}", True
    return f"Planted text {n:04d}", True


n = 0
for group, element, gmask, emask, action, name in table:
    if gmask != "FFFF" or emask != "FFFF":
        continue
    tag = int(group, 16) << 16 | int(element, 16)
    if int(group, 16) in (0x0000, 0x0002):
        continue  # command and meta groups are not part of a stored dataset
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        continue
    if "or" in vr:
        vr = vr.split(" or ")[0]
    n += 1
    if vr == "SQ":
        item = Dataset()
        value = f"Planted^Nested{n:04d}"
        item.add_new(0x0040A123, "PN", value)  # Person Name (D): replaced wherever it is
        ds.add_new(tag, "SQ", Sequence([item]))
        planted.append((f"{group},{element}>0040,A123", value, True))
        continue
    if vr not in ("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"):
        continue
    value, searchable = marker(n, vr)
    ds.add_new(tag, vr, value)
    planted.append((f"{group},{element}", value, searchable))

# The image itself (kept attributes).
ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.999.90001"
ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.999.90002"
ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.999.90003"
ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.10.999.90004"
ds.PatientName = "Doe^Jane^Planted"
ds.PatientID = "PLANTED-MRN-4711"
ds.Modality = "CT"
ds.BurnedInAnnotation = "NO"
ds.Rows, ds.Columns = 4, 4
ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
ds.PixelSpacing = [0.5, 0.5]
ds.ImagePositionPatient = [0, 0, 0]
ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
ds.PixelData = np.arange(16, dtype=np.int16).tobytes()
for key in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "PatientName", "PatientID"):
    planted.append((key, str(ds.data_element(key).value), True))

# A reference to another instance (Referenced Image Sequence, X/Z/U*): the UID inside must be replaced.
ref = Dataset()
ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
ref.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.10.999.90005"
ds.ReferencedImageSequence = Sequence([ref])
planted.append(("0008,1140>0008,1155", ref.ReferencedSOPInstanceUID, True))

# Private blocks: a creator with text, and a private sequence; both must go.
block = ds.private_block(0x0029, "PLANTED CREATOR 1", create=True)
block.add_new(0x01, "LO", "Planted private text")
block.add_new(0x02, "SQ", Sequence([Dataset()]))
block[0x02].value[0].add_new(0x00100010, "PN", "Planted^InPrivateSequence")
planted += [("0029,0010", "PLANTED CREATOR 1", True), ("0029,1001", "Planted private text", True),
            ("0029,1002>0010,0010", "Planted^InPrivateSequence", True)]

# An overlay and a curve (removed whole).
ds.add_new(0x60000010, "US", 4)
ds.add_new(0x60000011, "US", 4)
ds.add_new(0x60004000, "LT", "Planted overlay comment")
ds.add_new(0x60003000, "OW", b"PLANTEDOVERLAYBY")
ds.add_new(0x50000022, "LO", "Planted curve description")
planted += [("6000,4000", "Planted overlay comment", True), ("6000,3000", "PLANTEDOVERLAYBY", True),
            ("5000,0022", "Planted curve description", True)]

meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = ds.SOPClassUID
meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
meta.TransferSyntaxUID = ExplicitVRLittleEndian
meta.SourceApplicationEntityTitle = "PLANTEDSENDER"
planted.append(("0002,0016", "PLANTEDSENDER", True))
ds.file_meta = meta
ds.preamble = b"\0" * 128
pydicom.dcmwrite(OUT / "identifiers.dcm", ds, enforce_file_format=True)

(OUT / "identifiers.json").write_text(json.dumps(
    {"note": "values planted in identifiers.dcm; searchable ones must not occur in any de-identified output",
     "planted": [{"tag": t, "value": v, "searchable": s} for t, v, s in planted]}, indent=1) + "\n")
print(f"{len(planted)} planted values, {sum(s for _, _, s in planted)} searchable -> {OUT / 'identifiers.dcm'}")
