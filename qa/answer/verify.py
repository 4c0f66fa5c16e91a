"""Verification: does the candidate answer what was asked, in the passage it was taken from?

Each check serves one class of wrong answers seen on questions nobody tuned for:

* `type_mismatch`   — a unit, figure, date or person was asked and only a sentence came back;
* `unit_shaped`     — a unit answer that is not a unit name (a sentence fragment, a person);
* `year_conflict`   — the question names a year, the supporting text names other years only
  ("2022年的目标" answered with the 2021 figure); `year_unstated` — it names none;
* `place_missing`   — a town, street or village the question names is not in the supporting text;
* `body_missing`    — a body the question names (民政局, 卫健委…) is not in the supporting text;
* `measure_missing` / `money_missing` / `clock_missing` — the figure does not measure the asked quantity
  (多少公里 answered in 个; 收费多少 answered with no sum; 几点 with no clock time; 电话是多少 with no
  number that dials, which counts as a missing measure);
* `role_mismatch`   — 配合/责任 units were asked and the sentence names only the lead (or the reverse);
* `event_doc_date`  — the date of an event was asked and the answer is the document's own issue date;
* `quantity_missing` — the thing a figure or date question measures ("举报电话" of "举报电话是多少",
  "建成发电" of "什么时候建成发电") is not in the sentence the figure was taken from: a figure of
  something else in the same passage (0 = all of its characters there, 1 = none).

Checks produce typed flags; the calibrated model (`qa.answer.calibration`) weighs them with the
retrieval evidence. None of them knows any particular question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.overlap import bigrams, coverage, norm_text, question_terms

from .analysis import QuestionAnalysis
from .patterns import CLOCK_TIME, MONEY_FIGURE, PHONE_NUMBER, years_in
from .types import Answer, Passage

# Names of bodies end like this; a unit answer that does not is probably not a unit.
_UNIT_SUFFIX = re.compile(
    r"(?:局|委|委员会|办|办公室|中心|部|厅|院|所|站|队|会|组|室|处|科|镇|乡|街道|街道办事处|办事处|政府|公司|集团|社|协会|联合会|"
    r"分局|支队|大队|部门|机关|机构|单位|企业|学校|医院|银行|法院|检察院|农场|林场|村|社区|团|馆|台|园区|管委会|指挥部)$"
)
_PREFIX = re.compile(r"^(?:市|县|区|自治区|省|各)")


@dataclass(frozen=True)
class Verification:
    type_mismatch: bool = False
    unit_shaped: float = 1.0  # share of answered units that look like unit names
    year_conflict: bool = False
    year_unstated: bool = False
    place_missing: bool = False
    body_missing: bool = False
    measure_missing: bool = False
    money_missing: bool = False
    clock_missing: bool = False
    role_mismatch: bool = False
    event_doc_date: bool = False
    quantity_missing: float = 0.0

    def failures(self) -> list[str]:
        """Names of the checks that failed (for logs and the response's explanation)."""
        out = [name for name in ("type_mismatch", "year_conflict", "year_unstated", "place_missing",
                                 "body_missing", "measure_missing", "money_missing", "clock_missing",
                                 "role_mismatch", "event_doc_date") if getattr(self, name)]
        if self.unit_shaped < 1.0:
            out.append("not_unit_shaped")
        if self.quantity_missing >= 0.5:
            out.append("quantity_missing")
        return out


def _support_text(answer: Answer, passages: list[Passage]) -> str:
    used = [passages[i] for i in answer.support if i < len(passages)]
    return "\n".join(" ".join([p.doc_title or "", *p.section, p.text]) for p in used)


def _sentence_of(answer_text: str, passages: list[Passage], answer: Answer) -> str:
    """The sentence of the supporting passage that holds the answer (years of figures are local)."""
    for i in answer.support:
        if i >= len(passages):
            continue
        text = passages[i].text
        k = text.find(answer_text)
        if k >= 0:
            starts = [text.rfind(c, 0, k) for c in "。；\n"]
            ends = [e for e in (text.find(c, k + len(answer_text)) for c in "。；\n") if e >= 0]
            return text[max(starts) + 1: min(ends) if ends else len(text)]
    return ""


def _mentions(name: str, text_norm: str) -> bool:
    """Whether a body named in the question appears in the text, allowing 市-prefixes and the usual
    abbreviation (住房和城乡建设局 ~ 住建局): most of the name's character pairs must be there."""
    core = _PREFIX.sub("", norm_text(name))
    if core in text_norm:
        return True
    grams = bigrams(core)
    if not grams:
        return True
    return sum(1 for g in grams if g in text_norm) / len(grams) >= 0.6


def verify(analysis: QuestionAnalysis, answer: Answer, passages: list[Passage]) -> Verification:
    if answer.answer is None:
        return Verification()
    support = _support_text(answer, passages)
    support_norm = norm_text(support)
    f = answer.features
    expected = analysis.expected
    text = answer.answer or ""

    type_mismatch = expected != "passage" and answer.answer_type == "passage"
    units = answer.lead_units if answer.answer_type == "lead_unit" else []
    unit_shaped = (sum(1 for u in units if _UNIT_SUFFIX.search(norm_text(u))) / len(units)) if units else 1.0

    year_conflict = year_unstated = False
    if analysis.years:
        local = years_in(_sentence_of(text, passages, answer)) if answer.answer_type in ("number", "date") else set()
        stated = local or years_in(support)
        year_conflict = bool(stated) and not (stated & analysis.years)
        year_unstated = not stated

    place_missing = any(norm_text(p) not in support_norm for p in analysis.places)
    named = [b for b in analysis.bodies if not any(_mentions(b, norm_text(u)) for u in units)]
    body_missing = any(not _mentions(b, support_norm) for b in named)

    measure_missing = expected == "number" and bool(f.get("measure_asked")) and not f.get("measure_match")
    if analysis.phone and not PHONE_NUMBER.search(text):
        measure_missing = True
    money_missing = analysis.money and not MONEY_FIGURE.search(text)
    clock_missing = analysis.clock and not CLOCK_TIME.search(text)
    role_asked, role_answered = f.get("role_asked"), f.get("role_answered")
    role_mismatch = bool(role_asked and role_answered and role_asked != "lead" and role_answered != role_asked)

    event_doc_date = False
    if expected == "date" and answer.answer_type == "date":
        p = passages[answer.support[0]] if answer.support else None
        if p is not None and p.date:
            y, m, d = (int(x) for x in p.date.split("-"))
            printed = {f"{y}年{m}月{d}日", p.date}
            event_doc_date = norm_text(text) in printed or p.kind == "front_matter"
    quantity_missing = 0.0
    if analysis.quantity and answer.answer_type in ("number", "date"):
        used = passages[answer.support[0]] if answer.support else None
        local = _sentence_of(text, passages, answer)
        if used is not None and used.kind == "table_row":
            local = used.text  # a row's cells are read together ("指标：…；2021年目标：…")
        local += "\n" + str(f.get("field") or "")
        quantity_missing = round(1.0 - max(coverage(question_terms(p), local) for p in analysis.quantity), 4)
    return Verification(
        quantity_missing=quantity_missing,
        type_mismatch=type_mismatch, unit_shaped=unit_shaped, year_conflict=year_conflict,
        year_unstated=year_unstated, place_missing=place_missing, body_missing=body_missing,
        measure_missing=measure_missing, money_missing=bool(money_missing), clock_missing=bool(clock_missing),
        role_mismatch=role_mismatch, event_doc_date=event_doc_date,
    )
