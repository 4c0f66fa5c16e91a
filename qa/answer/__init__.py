"""The answer layer: a short extractive answer, or an honest "not in the corpus".

Stages, each a module, each handing the next a typed record:

1. `analysis` — what the question asks for (unit, person, figure with its measure, date of an event or
   of a document, document field, yes/no, passage) and what it pins down (years, places, bodies, role).
2. `extract` / `person` — candidates of the asked type from the retrieved passages (unit markings and
   document conventions via `qa.units`, figures, dates, document fields, member lists).
3. `verify` — the candidate is of the asked type; years, places and bodies agree with its passage; a
   figure measures the asked quantity; the role asked is the role the sentence gives.
4. `calibration` — P(right) from a logistic regression fitted on a generated question bank; answers below
   `QA_ABSTAIN_BELOW` are withheld (`pipeline.decide`).

Text patterns (文号, money, dates, names) live in `patterns`.
"""
from .analysis import QuestionAnalysis, analyse, classify_question, is_yes_no, requested_role
from .extract import answer_question
from .pipeline import Candidate, candidate_features, decide
from .types import Answer, Decision, Passage

__all__ = ["Answer", "Candidate", "Decision", "Passage", "QuestionAnalysis", "analyse", "answer_question",
           "candidate_features", "classify_question", "decide", "is_yes_no", "requested_role"]
