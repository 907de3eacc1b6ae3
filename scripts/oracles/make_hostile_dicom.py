"""Writes Tests/Fixtures/dicom/patient_id_traversal/: the sample CT slice (sample-data/dicom/CT_small.dcm)
with PatientID "../../etc", a PatientName and a BirthDate, to test that identifiers taken from scans
cannot name paths outside the output folder and that names and birth dates stay out of logs.
Run once with the oracle venv: .venv-oracles/bin/python scripts/oracles/make_hostile_dicom.py"""
import os
import pydicom

root = os.path.join(os.path.dirname(__file__), "..", "..")
ds = pydicom.dcmread(os.path.join(root, "sample-data", "dicom", "CT_small.dcm"))
ds.PatientID = "../../etc"
ds.PatientName = "Traversal^Tess"
ds.PatientBirthDate = "19700101"
ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1.99"
out = os.path.join(root, "Tests", "Fixtures", "dicom", "patient_id_traversal")
os.makedirs(out, exist_ok=True)
ds.save_as(os.path.join(out, "slice.dcm"))
print("wrote", os.path.join(out, "slice.dcm"))
