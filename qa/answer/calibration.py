"""Calibrated confidence: the probability that a candidate answer is right, from a fitted model.

The model is a logistic regression over the typed features of one candidate (`Features`): what was
asked, how explicit the source is, how well the question matches the passage used, the retrieval
evidence, and the verification checks. It is fitted with scikit-learn on the generated question bank
(`bench/question_bank.py`, fit split; `bench/fit_calibration.py`), and its parameters ship as JSON
(`calibration.json` beside this module), so serving needs numpy only.

`confidence` in `/v1/ask` is this probability; answers below `QA_ABSTAIN_BELOW` are withheld.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

from .analysis import QuestionAnalysis
from .evidence import UNSEEN_TERM_IDF, Evidence
from .types import Answer
from .verify import Verification

PARAMS_PATH = Path(__file__).with_name("calibration.json")
_EXPLICIT_STYLES = ("inline", "unit_lines", "table")


@dataclass(frozen=True)
class Features:
    """What the decision sees of one candidate answer; every field is a number in about [0, 1]."""

    exp_unit: float
    exp_person: float
    exp_number: float
    exp_date: float
    exp_document: float
    exp_passage: float
    yes_no: float
    extractor_confidence: float  # the extractor's own certainty × match × retrieval support
    clause_overlap: float  # the best clause/span of the passage used against the question
    # coverage over the terms the corpus knows only: words it has never seen are as often a citizen's own
    # words (孩子, 房子) as an absent topic, and a bank of perturbed questions cannot tell the two apart
    known_coverage: float
    max_missing_rarity: float
    unseen_share: float  # how much of the question the corpus has never seen (IDF-weighted)
    unbridged_share: float  # …of which no synonym in the corpus stands in for
    top_dense: float
    support_dense: float  # cosine of the passage the answer came from
    passage_overlap: float  # the question's character pairs found in that passage
    support_rank: float  # 0 when the answer came from the best passage
    score_margin: float
    explicit_marker: float  # a marking made for the purpose (（X牵头）, 牵头单位：, a table column)
    doc_number_match: float
    type_mismatch: float
    not_unit_shaped: float
    year_conflict: float
    year_unstated: float
    place_missing: float
    body_missing: float
    measure_missing: float
    money_missing: float
    clock_missing: float
    role_mismatch: float
    event_doc_date: float
    quantity_missing: float

    def vector(self) -> list[float]:
        return [float(getattr(self, f.name)) for f in fields(self)]

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


FEATURE_NAMES = tuple(f.name for f in fields(Features))


def make_features(analysis: QuestionAnalysis, answer: Answer, ev: Evidence, ver: Verification) -> Features:
    f = answer.features
    e = analysis.expected
    explicit = f.get("marker_style") in _EXPLICIT_STYLES and f.get("lead_explicit", True)
    return Features(
        exp_unit=float(e == "lead_unit"), exp_person=float(e == "person"), exp_number=float(e == "number"),
        exp_date=float(e == "date"), exp_document=float(e == "document"),
        exp_passage=float(e == "passage" and not analysis.yes_no), yes_no=float(analysis.yes_no),
        extractor_confidence=float(answer.confidence),
        clause_overlap=float(f.get("clause_overlap") or 0.0),
        known_coverage=ev.known_coverage,
        max_missing_rarity=min(1.0, ev.max_missing_idf / UNSEEN_TERM_IDF),
        unseen_share=ev.unseen_share, unbridged_share=ev.unbridged_share,
        top_dense=ev.top_dense, support_dense=ev.support_dense, passage_overlap=ev.passage_overlap, support_rank=min(1.0, float(f.get("rank", 0)) / 4.0),
        score_margin=float(f.get("score_margin", 0.0)),
        explicit_marker=float(bool(explicit) or "field" in f),
        doc_number_match=float(bool(f.get("doc_number_match"))),
        type_mismatch=float(ver.type_mismatch), not_unit_shaped=1.0 - ver.unit_shaped,
        year_conflict=float(ver.year_conflict), year_unstated=float(ver.year_unstated),
        place_missing=float(ver.place_missing), body_missing=float(ver.body_missing),
        measure_missing=float(ver.measure_missing), money_missing=float(ver.money_missing),
        clock_missing=float(ver.clock_missing), role_mismatch=float(ver.role_mismatch),
        event_doc_date=float(ver.event_doc_date), quantity_missing=ver.quantity_missing,
    )


@dataclass(frozen=True)
class CalibrationModel:
    """Logistic regression parameters over `FEATURE_NAMES` (standardised with `mean`/`scale`)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # the abstention threshold chosen on the fit split
    meta: dict

    def probability(self, features: Features) -> float:
        return self.probability_of(features.as_dict())

    def probability_of(self, values: dict[str, float]) -> float:
        """P(right) from a feature record by name (a row of the recorded feature table)."""
        z = self.intercept
        for name, mu, sd, w in zip(self.names, self.mean, self.scale, self.coef):
            z += w * (values.get(name, 0.0) - mu) / sd
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> dict:
        return {"names": list(self.names), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold,
                "meta": self.meta}

    @classmethod
    def from_json(cls, data: dict) -> "CalibrationModel":
        return cls(tuple(data["names"]), tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]),
                   float(data["intercept"]), float(data["threshold"]), dict(data.get("meta", {})))


@lru_cache(maxsize=4)
def load_model(path: Path = PARAMS_PATH) -> CalibrationModel | None:
    """The shipped model, or None when none has been fitted (the extractor's confidence is used then)."""
    if not path.exists():
        return None
    return CalibrationModel.from_json(json.loads(path.read_text(encoding="utf-8")))


def fit_model(rows: list[tuple[list[float], int]], names: tuple[str, ...] = FEATURE_NAMES,
              c: float = 1.0, meta: dict | None = None, weights: list[float] | None = None,
              threshold: float | None = None) -> CalibrationModel:
    """Fit the logistic regression (scikit-learn, deterministic lbfgs) on (feature vector, label) rows,
    each with its weight. The threshold is the one given, else the one that maximises the (weighted)
    share of right decisions on the same rows."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=int)
    w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=5000, solver="lbfgs")
    lr.fit((x - mean) / scale, y, sample_weight=w)
    p = lr.predict_proba((x - mean) / scale)[:, 1]
    # a right decision: answer when right, withhold when wrong
    candidates = np.round(np.arange(0.2, 0.81, 0.01), 2)
    scores = [float(np.average(np.where(p >= t, y == 1, y == 0), weights=w)) for t in candidates]
    best = float(candidates[int(np.argmax(scores))]) if threshold is None else float(threshold)
    return CalibrationModel(
        names=tuple(names), mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale), coef=tuple(round(float(v), 6) for v in lr.coef_[0]),
        intercept=round(float(lr.intercept_[0]), 6), threshold=best, meta=dict(meta or {}),
    )


def expected_calibration_error(probs: list[float], labels: list[int], bins: int = 10) -> float:
    """ECE: the bin-size-weighted gap between mean confidence and accuracy over equal-width bins."""
    n = len(probs)
    if not n:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(probs) if (lo <= p < hi) or (b == bins - 1 and p == 1.0)]
        if idx:
            conf = sum(probs[i] for i in idx) / len(idx)
            acc = sum(labels[i] for i in idx) / len(idx)
            total += len(idx) / n * abs(conf - acc)
    return total
