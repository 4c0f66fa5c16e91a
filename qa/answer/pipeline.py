"""The answer pipeline: question analysis → candidate → verification → calibrated decision.

`decide(...)` runs every stage for one question over its retrieved passages and returns the answer to
give: the candidate with `confidence` = P(right) from the fitted model, or an abstention
(`answer_type` "none", `confidence` = P(abstaining is right) = 1 − P) when P falls below the
threshold or when nothing of the asked kind exists (no person holds the asked role; nothing extracted).
`candidate_features(...)` stops before the decision: the fitting script records these features.
"""
from __future__ import annotations

from dataclasses import dataclass

from qa.retrieval import Hit, HybridRetriever, QueryAnalysis

from .analysis import QuestionAnalysis, analyse
from .calibration import CalibrationModel, Features, load_model, make_features
from .evidence import Evidence, gather_evidence
from .extract import answer_question
from .types import Answer, Decision, Passage
from .verify import Verification, verify


@dataclass
class Candidate:
    """One question's candidate answer with everything the decision reads."""

    analysis: QuestionAnalysis
    answer: Answer
    evidence: Evidence | None
    verification: Verification
    features: Features | None  # None when there is nothing to decide about (no candidate)


def candidate_features(question: str, passages: list[Passage], hits: list[Hit], query: QueryAnalysis,
                       retriever: HybridRetriever) -> Candidate:
    analysis = analyse(question)
    answer = answer_question(question, passages)
    if not hits or answer.answer is None:
        return Candidate(analysis, answer, None, Verification(), None)
    ev = gather_evidence(query, hits, answer.support, retriever, question)
    ver = verify(analysis, answer, passages)
    answer.features.update({"coverage": round(ev.coverage, 3), "known_coverage": round(ev.known_coverage, 3),
                            "missing": ev.missing, "unseen": ev.unseen})
    return Candidate(analysis, answer, ev, ver, make_features(analysis, answer, ev, ver))


def decide(candidate: Candidate, abstain_below: float | None = None,
           model: CalibrationModel | None = None) -> Answer:
    """The answer to give for a candidate: calibrated, or withheld."""
    model = model or load_model()
    answer = candidate.answer
    if candidate.features is None:
        why = "no passage" if answer.answer is None and not answer.support and answer.answer_type == "none" \
            else "nothing of the asked kind found"
        if answer.features.get("intended_type") == "person":
            why = "no one holds the asked role in the passages"
        return _abstain(answer, Decision(0.0, abstain_below or 0.5, True, why), 0.9)
    failures = tuple(candidate.verification.failures())
    if model is None:  # no fitted model shipped: the extractor's own certainty stands in
        p, threshold = answer.confidence, abstain_below if abstain_below is not None else 0.3
    else:
        p = model.probability(candidate.features)
        threshold = abstain_below if abstain_below is not None else model.threshold
    if p < threshold:
        reason = f"P(right)={p:.2f} below {threshold:.2f}" + (f" ({', '.join(failures)})" if failures else "")
        return _abstain(answer, Decision(p, threshold, True, reason, failures), 1.0 - p)
    answer.confidence = round(float(p), 4)
    answer.decision = Decision(p, threshold, False, "", failures)
    return answer


def _abstain(answer: Answer, decision: Decision, confidence: float) -> Answer:
    answer.features["abstained_because"] = decision.reason
    answer.answer = None
    answer.answer_type = "none"
    answer.lead_units = []
    answer.supporting_units = []
    answer.confidence = round(float(max(0.0, min(1.0, confidence))), 4)
    answer.decision = decision
    return answer
