#!/usr/bin/env python3
"""Reference classification metrics from scikit-learn for VoxelFlow's tests.

Usage: .venv-torch/bin/python scripts/oracles/make_classification_fixtures.py Tests/Fixtures/metrics

Three problems, each written as predictions.csv-style and truth.csv-style files plus scikit-learn's answers:
  three   60 cases, classes ct / mr-t1 / other, softmax scores (6 decimals) with ties; every class present
  binary  40 cases, classes negative / positive
  sparse  30 cases, 4 classes: "rare" never predicted, "absent" predicted but never true (no scores)
Writes classification_<name>_predictions.csv (case,predicted[,score per class]), classification_<name>_truth.csv
(case,class) and classification_oracle.json.
"""
import csv
import json
import os
import sys

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support, roc_auc_score)

OUT = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/metrics"
os.makedirs(OUT, exist_ok=True)


def write(name, cases, truth, predicted, classes, scores):
    with open(os.path.join(OUT, f"classification_{name}_predictions.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "predicted"] + ([f"score_{c}" for c in classes] if scores is not None else []))
        for n, case in enumerate(cases):
            w.writerow([case, predicted[n]] + ([f"{s:.6f}" for s in scores[n]] if scores is not None else []))
    with open(os.path.join(OUT, f"classification_{name}_truth.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "class"])
        for n, case in enumerate(cases):
            w.writerow([case, truth[n]])


def oracle(truth, predicted, classes, scores):
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
    out = {
        "classes": classes,
        "confusion": confusion_matrix(truth, predicted, labels=classes).tolist(),
        "accuracy": accuracy_score(truth, predicted),
        "balancedAccuracy": balanced_accuracy_score(truth, predicted),
        "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist(),
        "macroPrecision": float(np.mean(p)), "macroRecall": float(np.mean(r)),
        "macroF1": f1_score(truth, predicted, labels=classes, average="macro", zero_division=0),
    }
    if scores is not None:
        rounded = np.round(scores, 6)
        out["auc"] = [roc_auc_score([t == c for t in truth], rounded[:, n]) for n, c in enumerate(classes)]
        if len(classes) == 2:
            out["macroAUC"] = roc_auc_score([t == classes[1] for t in truth], rounded[:, 1])
        else:
            out["macroAUC"] = roc_auc_score(truth, rounded, multi_class="ovr",
                                            average="macro", labels=classes)
    return out


rng = np.random.default_rng(11)
result = {"sklearn": __import__("sklearn").__version__}

# three classes, scores from noisy logits, rounded to 4 decimals (ties appear)
classes = ["ct", "mr-t1", "other"]
truth = [classes[i] for i in rng.integers(0, 3, 60)]
logits = rng.normal(0, 1, (60, 3))
for n, t in enumerate(truth):
    logits[n, classes.index(t)] += 1.2
logits = np.round(logits, 1)
scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
predicted = [classes[i] for i in np.argmax(scores, axis=1)]
cases = [f"case{n:03d}" for n in range(60)]
write("three", cases, truth, predicted, classes, scores)
result["three"] = oracle(truth, predicted, classes, scores)

# binary
classes = ["negative", "positive"]
truth = [classes[i] for i in rng.integers(0, 2, 40)]
pos = np.clip(np.array([0.65 if t == "positive" else 0.35 for t in truth]) + rng.normal(0, 0.2, 40), 0.001, 0.999)
pos = np.round(pos, 2)
scores = np.stack([1 - pos, pos], axis=1)
predicted = [classes[int(s >= 0.5)] for s in pos]
cases = [f"b{n:02d}" for n in range(40)]
write("binary", cases, truth, predicted, classes, scores)
result["binary"] = oracle(truth, predicted, classes, scores)

# sparse: a class never predicted, a class never true, no scores
classes = ["absent", "common", "rare", "usual"]
truth = [["common", "rare", "usual"][i] for i in rng.choice(3, 30, p=[0.5, 0.15, 0.35])]
predicted = []
for t in truth:
    u = rng.random()
    predicted.append(("common" if t == "rare" else t) if u < 0.7 else ["absent", "common", "usual"][int(u * 10) % 3])
cases = [f"s{n:02d}" for n in range(30)]
write("sparse", cases, truth, predicted, classes, None)
result["sparse"] = oracle(truth, predicted, classes, None)

with open(os.path.join(OUT, "classification_oracle.json"), "w") as f:
    json.dump(result, f, indent=1)
print("wrote", OUT)
