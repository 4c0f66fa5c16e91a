"""The records that cross between the stages of the answer layer.

`Passage` is what the extractor reads of a retrieved chunk; `Answer` is a candidate answer and, after
the decision, the answer given (or the abstention). The stages in between add their own typed records
(`QuestionAnalysis`, `Verification`, `Features`, `Decision`).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Passage:
    """One retrieved passage, best first."""

    text: str  # the passage text as returned to users
    score: float  # fused retrieval score, higher is better (scale not fixed; use ranks/margins)
    section: list[str]  # heading path, e.g. ["二、主要任务", "（三）着力提升整体发展水平", "14."]
    doc_title: str
    doc_number: str | None  # 文号 e.g. 青党发〔2021〕16号
    issuer: str | None
    date: str | None  # ISO, 2021-06-11
    kind: str = "paragraph"  # or "table_row", "heading", "front_matter"
    first_listed_leads: bool = False  # its document declares "排在第一位的部门为牵头部门"
    dense: float = 0.0  # the passage's cosine with the question
    # (text, cosine with the question) of its sentence windows, for a long passage: which sentence a
    # question in other words is about
    windows: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Answer:
    answer: str | None
    answer_type: str  # "lead_unit" | "person" | "number" | "date" | "document" | "passage" | "none"
    lead_units: list[str]
    supporting_units: list[str]
    confidence: float  # in [0, 1]
    support: list[int]  # indexes into the passages list that the answer was taken from
    features: dict = field(default_factory=dict)  # what the extractor saw (match, marker style, rank…)
    decision: "Decision | None" = None  # set by the pipeline: the calibrated decision behind it


@dataclass(frozen=True)
class Decision:
    """The calibrated decision about a candidate answer."""

    probability: float  # P(the candidate answer is right), from the fitted model
    threshold: float  # answers below it are withheld (QA_ABSTAIN_BELOW)
    abstained: bool
    reason: str  # why it abstained (a failed check, "low probability"), or "" when it answered
    failures: tuple[str, ...] = ()  # verification checks that failed
