"""Short answers taken from cited passages: who leads, what figure, which date, which document.

`answer_question(question, passages)` never invents text: every answer is a span of a cited passage
(or a join of spans such as "市民政局、妇联", or a document metadata field, which counts as cited text).
It always tries to answer; abstaining (`none`) is the caller's decision, made with retrieval evidence
plus the features exposed here (`clause_overlap`, `Answer.features`).

How it works, per intended answer type (`classify_question`):

* ``lead_unit`` — split each passage into the task spans of its unit markings (`qa.units`), score every
  span against the question by character-bigram overlap (question words such as 由哪个部门/牵头 removed,
  bigrams weighted by how rare they are among the candidate spans), and take the marking that closes the
  best span. Answer the lead units, or the 责任/配合 units when the question asks for those. Legal text
  names bodies in running text instead ("由X负责", "X统一领导…", "X是…的主管部门", `qa.units.
  find_prose_responsibilities`): those candidates compete too, slightly discounted, and the duty the
  question names (主管, 制定, 认定…) must be the one the sentence gives the body.
* ``number`` / ``date`` — the clause (split at ，；。 and newlines) that holds a figure / date and best
  matches the question, scored on the clause and on its sentence (for a "完成时限：5月底" line, on the
  item it belongs to); a figure with the unit the question asks for (多少公里 → 公里; 几天 → 日/天;
  多长时间 → any unit of time; a sum of money → 元 or a share/multiple such as 百分之八十, 两倍以上) is
  preferred. Figures may be Chinese numerals ("二至三株", "二百元", "三分之二"). A list's lead-in ("按照下列
  标准执行：") is read with each of its items, so what tells the items apart decides.
* ``document`` — the document (from passage metadata) whose title / 文号 best matches; answer its title,
  文号, date (in the source's own form "2021年5月20日" when a passage shows it) or issuer. A 文号 asked
  of a document the text cites ("依据的…文件文号") is taken from the text. For laws, the 令号
  ("国务院令第N号") and the dates of 通过/公布/施行 are read from the header or the last article.
* ``passage`` — the best sentence of the best passages. A yes/no question ("…要收费吗？") prefers a
  sentence that says what is allowed, required, forbidden or free, and is answered with its whole line.

Table rows and "label：value" lines are also answered by column: a question naming a column
("…的帮扶单位", "2021年预计指标…多少") gets that cell.

`confidence` = extraction certainty (an explicit marker attributed to the matched task is strong) ×
match quality (overlap of the used clause) × retrieval support (rank of the passage used and its score
margin over the next); see `_confidence`.
"""
from __future__ import annotations

import math
import re

from qa.overlap import SENT_SPLIT as _SENT_SPLIT
from qa.overlap import QTerms as _QTerms
from qa.overlap import bigrams as _bigrams
from qa.overlap import clause_overlap
from qa.overlap import clauses as _clauses
from qa.overlap import coverage as _coverage
from qa.overlap import norm_text as _norm
from qa.overlap import trim as _trim
from qa.overlap import question_terms as _question_terms
from .person import find_person
from .analysis import (analyse, COST_Q, DECREE_Q, PERCENT_Q, PHONE_ASKED, asked_measures, classify_question, is_yes_no,
                       requested_role)
from .patterns import (CN_DIGIT, CN_NUM, DATE, DECREE_NUMBER, DOC_NUMBER, EVENT_DATE, LAW_EVENT, MONEY_FIGURE, NUMBER,
                       PHONE_NUMBER)
from .types import Answer, Passage
from qa.units import (Attribution, UnitAnnotation, annotations_under_convention, find_prose_responsibilities,
                      find_unit_annotations,
                      parse_table_fields, units_for_span)


def _rarity_weights(q: _QTerms, texts: list[str]) -> dict[str, float]:
    """IDF-like weights of question bigrams over candidate texts: a bigram found everywhere tells nothing."""
    n = len(texts)
    if n < 3:
        return {}
    norm = [_norm(t) for t in texts]
    weights = {}
    for g in q.bigrams:
        df = sum(1 for t in norm if g in t)
        weights[g] = math.log(1 + (n + 1) / (df + 1))
    return weights


# --- retrieval support and confidence ----------------------------------------------------------------


def _retrieval_support(passages: list[Passage], i: int) -> dict:
    """Rank of passage i and its score margin over the best other passage (relative, scale-free)."""
    scores = [p.score for p in passages]
    others = [s for j, s in enumerate(scores) if j != i]
    s_i = scores[i]
    best_other = max(others) if others else None
    spread = (max(scores) - min(scores)) if len(scores) > 1 else 0.0
    if best_other is None:
        margin = 1.0
    elif spread > 0:
        margin = (s_i - best_other) / spread  # in [-1, 1]
    else:
        margin = 0.0
    rank_factor = 1.0 / (1.0 + 0.3 * i)
    return {"rank": i, "rank_factor": round(rank_factor, 4), "score_margin": round(margin, 4)}


def _confidence(certainty: float, match: float, retrieval: dict, ambiguity: float = 1.0) -> float:
    """certainty (how explicit the source is) × match quality × retrieval support × ambiguity."""
    match_factor = 0.35 + 0.65 * min(1.0, match / 0.6)
    margin = max(-1.0, min(1.0, retrieval["score_margin"]))
    retr = retrieval["rank_factor"] * (0.85 + 0.15 * (margin + 1) / 2)
    conf = certainty * match_factor * (0.55 + 0.45 * retr) * ambiguity
    return round(max(0.0, min(1.0, conf)), 4)


def _rank_penalty(i: int) -> float:
    # Retrieval order matters, but a clearly better clause match further down should still win.
    return 0.04 * i


# --- field (column / label line) answers -----------------------------------------------------------


# "责任领导：代兴科 市政府副市长", "完成时限：4月底": a short label, a colon, the value.
_LABEL_LINE = re.compile(
    r"^[ \t\u3000]*([^\s：:，,。；;、（）()]{1,6}(?:[ \u3000]?[^\s：:，,。；;、（）()]{1,3}){0,3})"
    r"[ \t\u3000]*[:：][ \t\u3000]*(\S.*)$",
    re.M,
)
_UNIT_LABEL = re.compile(r"(牵头|责任|配合|协办|协助)(单位|部门)")


def _fields(p: Passage) -> list[tuple[str, int, int]]:
    """(label, value_start, value_end) of a table row's cells, or of the passage's "label：value" lines."""
    cells = parse_table_fields(p.text) if p.kind in ("table_row", "paragraph", "front_matter") else []
    if cells:
        return cells
    return [(re.sub(r"\s", "", m.group(1)), m.start(2), m.end(2)) for m in _LABEL_LINE.finditer(p.text)]


def _label_match(question: str, label: str) -> float:
    """How much of a column label the question names (bigram fraction of the label)."""
    lg = _bigrams(label)
    if not lg:
        return 0.0
    qn = _norm(question)
    return sum(1 for g in lg if g in qn) / len(lg)


def _field_answer(question: str, qtype: str, passages: list[Passage], top: list[int]) -> tuple | None:
    """A cell whose column the question names, in the best-matching passage with fields."""
    q = _question_terms(question)
    best = None
    for i in top:
        p = passages[i]
        fields = _fields(p)
        if not fields:
            continue
        for label, a, b in fields:
            if _UNIT_LABEL.search(label) or label in ("序号",):
                continue  # unit columns go through the unit logic (roles, 配合 questions, …)
            lm = _label_match(question, label)
            if lm < 0.6 or b <= a:
                continue
            value = p.text[a:b]
            if qtype == "number" and not re.search(r"\d", value):
                continue
            rest = p.text[:a] + p.text[b:]
            score = 0.5 * lm + _coverage(q, rest) - _rank_penalty(top.index(i))
            if best is None or score > best[0]:
                best = (score, i, label, value, lm, _coverage(q, rest))
    return best


# --- lead / supporting units -----------------------------------------------------------------------


def _context(p: Passage) -> str:
    """Document title and heading path: questions often scope themselves ("复审方案里…", "任务清单中…")."""
    return " ".join([p.doc_title or ""] + list(p.section or []))


def _span_score(q: _QTerms, text: str, a: int, b: int, context: str, weights: dict[str, float] | None) -> float:
    """Match of the task span text[a:b]: its best sentence (focus) and the span as a whole.

    The context (title, headings) is added to both, so that scoping words in the question count equally
    for every span of the same document.
    """
    if b <= a:
        return 0.0
    span = text[a:b]
    sents = [_coverage(q, span[s:e] + "\n" + context, weights) for s, e in _clauses(span, _SENT_SPLIT)] or [0.0]
    return 0.7 * max(sents) + 0.3 * _coverage(q, span + "\n" + context, weights)


_STYLE_CERTAINTY = {"inline": 0.95, "unit_lines": 0.95, "table": 0.9, "fragment": 0.5, "prose": 0.85}
# A body named in running text ("由X负责", "X是…主管部门") is found by pattern, not by a marking made for
# the purpose: where a marking matches about as well, the marking wins.
_PROSE_DISCOUNT = 0.9
# "X应当…" says what a body shall do, which is weaker still: everyone in a law "应当" something.
_WEAK_PROSE_DISCOUNT = 0.7
_DUTY_MATCH_BONUS = 0.1
_DUTY_MISMATCH_PENALTY = 0.1


# Specific duties a question can ask about ("归哪个部门主管", "由谁统一领导", "由哪一级政府制发");
# 负责/牵头/管理 say only that someone is in charge and select nothing.
_SPECIFIC_DUTY = re.compile(
    r"主管|统一领导|领导|制定|制发|认定|确认|确定|核定|审批|审核|审查|批准|核发|颁发|发放|办理|受理|查处|征收|收取"
    r"|决定|指定|公布|发布|备案|编制|拟定|组织实施|监督|协调|指导"
)


def _asked_duty(question: str, duties: list[str]) -> set[str]:
    """The specific duties the question names that some candidate body is given in the passages."""
    asked = set(_SPECIFIC_DUTY.findall(re.sub(r"\s", "", question)))
    return {d for d in asked if any(d in duty for duty in duties)}


def _duty_adjustment(asked: set[str], duty: str) -> float:
    """The question's verb names the kind of responsibility (主管, 统一领导, 制定, 认定): a body given
    that very duty answers it; one given another duty in the same topic ("负责查处…") does not."""
    if not asked:
        return 0.0
    return _DUTY_MATCH_BONUS if any(d in duty for d in asked) else -_DUTY_MISMATCH_PENALTY


def _unit_answer_text(ann: UnitAnnotation, role: str, plural: bool) -> tuple[str | None, list[str], str]:
    """(answer text, units, role used) for the role asked, falling back to the leads."""
    if role == "cooperating" and ann.supporting:
        units = ann.cooperating or ann.supporting
        text = ann.role_texts.get("cooperating") if ann.cooperating else ann.supporting_text
        return text or "、".join(units), units, "cooperating"
    if role == "responsible" and ann.responsible and ann.lead_explicit and ann.style != "table":
        return ann.role_texts.get("responsible") or "、".join(ann.responsible), ann.responsible, "responsible"
    if role == "responsible" and ann.style == "table" and ann.responsible:
        return ann.role_texts.get("responsible") or "、".join(ann.responsible), ann.responsible, "responsible"
    if ann.lead:
        if ann.style == "table" and not ann.lead_explicit and plural:
            # "哪些部门" over a 责任单位 column: all responsible units.
            return ann.role_texts.get("responsible"), ann.responsible, "responsible"
        text = ann.lead_text
        if ann.aliases and text and any(k in text for k in ann.aliases):
            text = "、".join(ann.lead)  # "市X局〈Y局〉" → "市X局"
        return text or "、".join(ann.lead), ann.lead, "lead"
    units = ann.supporting
    return ann.supporting_text or "、".join(units), units, "supporting"


def _answer_lead(question: str, passages: list[Passage], top: list[int]) -> Answer | None:
    q = _question_terms(question)
    candidates = []  # (score, passage index, annotation, exact, span score)
    per_passage: dict[int, list[tuple[float, UnitAnnotation]]] = {}
    annotated = {i: annotations_under_convention(passages[i].text, passages[i].kind, passages[i].first_listed_leads)
                 for i in top}
    prose = {i: find_prose_responsibilities(passages[i].text) if passages[i].kind != "table_row" else []
             for i in top}
    span_texts = [passages[i].text[a.start:a.end] for i in top for a in annotated[i] + prose[i]]
    asked_duty = _asked_duty(question, [a.duty for i in top for a in prose[i]])
    weights = _rarity_weights(q, span_texts + [passages[i].text for i in top])
    for rank, i in enumerate(top):
        text = passages[i].text
        anns = annotated[i]
        if not anns and not prose[i]:
            continue
        scored = []
        ctx = _context(passages[i])
        for ann in anns:
            s = _span_score(q, text, ann.start, ann.end, ctx, weights)
            scored.append((s, ann))
        for ann in prose[i]:
            s = _span_score(q, text, ann.start, ann.end, ctx, weights)
            s *= _PROSE_DISCOUNT if ann.lead_explicit else _WEAK_PROSE_DISCOUNT
            scored.append((s + _duty_adjustment(asked_duty, ann.duty), ann))
        # Sentences not covered by any marking: attribute them to the nearest marking (weakly).
        for a, b in _clauses(text, _SENT_SPLIT):
            if any(ann.start <= a < ann.end or ann.marker_start <= a < ann.marker_end for ann in anns):
                continue
            att: Attribution | None = units_for_span(text, a, b, anns)
            if att and not att.exact:
                s = _span_score(q, text, a, b, ctx, weights)
                scored.append((s * 0.8, att.annotation))
        per_passage[i] = scored
        for s, ann in scored:
            exact = ann.end > ann.start or ann.style == "table"
            candidates.append((s - _rank_penalty(rank), i, ann, exact, s))
    if not candidates:
        return None
    candidates.sort(key=lambda c: -c[0])
    _, i, ann, exact, s = candidates[0]
    # Ambiguity: another marking in the same passage naming other units that matches about as well.
    rivals = [r for r, other in per_passage[i] if other is not ann and other.lead != ann.lead]
    gap = s - max(rivals) if rivals else 1.0
    ambiguity = 0.7 + 0.3 * max(0.0, min(1.0, gap / 0.15))
    role = requested_role(question)
    plural = bool(re.search(r"哪些|哪几个|都有|分别", question))
    text, units, used_role = _unit_answer_text(ann, role, plural)
    certainty = _STYLE_CERTAINTY.get(ann.style, 0.6)
    if not ann.lead_explicit:
        # "X应当…" in prose says what a body does, not that it is in charge
        certainty = 0.6 if ann.style == "prose" else certainty - (0.1 if ann.style == "table" else 0.05)
    if not exact or ann.end <= ann.start:
        certainty *= 0.5  # the marking does not close the matched text (fragment / nearest fallback)
    if used_role != role and role != "lead":
        certainty *= 0.6  # asked for 配合 units, only leads are named
    retrieval = _retrieval_support(passages, i)
    plain = _span_score(q, passages[i].text, ann.start, ann.end, _context(passages[i]), None)
    lead_units = list(ann.lead) + [a for k in ann.lead for a in ann.aliases.get(k, [])]
    return Answer(
        answer=text,
        answer_type="lead_unit",
        lead_units=lead_units,
        supporting_units=list(ann.supporting),
        confidence=_confidence(certainty, s, retrieval, ambiguity),
        support=[i],
        features={
            "clause_overlap": round(plain, 4), "span_score": round(s, 4), "marker_style": ann.style,
            "lead_explicit": ann.lead_explicit, "role_asked": role, "role_answered": used_role,
            "attributed": exact, "ambiguity_gap": round(gap, 4),
            "task_span": [ann.start, ann.end], **retrieval,
        },
    )


# --- figures and dates -----------------------------------------------------------------------------


def _mask_markings(p: Passage) -> str:
    """The passage with its inline unit markings blanked out (same length, so offsets still hold):
    a figure's clause should not carry "（市X委牵头）" along."""
    text = p.text
    for ann in find_unit_annotations(text, p.kind):
        if ann.style in ("inline", "fragment"):
            text = text[:ann.marker_start] + "\n" * (ann.marker_end - ann.marker_start) + text[ann.marker_end:]
    return text


def _deadline_clauses(p: Passage) -> list[tuple[int, int, str]]:
    """(start, end, context) of "完成时限：…" lines, with the item they belong to as context."""
    out = []
    for ann in find_unit_annotations(p.text, p.kind):
        for a, b in ann.fields.values():
            out.append((a, b, p.text[ann.start:ann.end]))
    return out


# Numbers that are not quantities: a date ("2021年9月29日", "9月底"), an item's number ("3. ", "（2）")
# and a label of the text's own structure ("第二十八条", "第三款"). A question asking 几个月 / 多少天 is
# not answered by the 9 of "9月29日" nor by the 3 of "3. 配齐…".
_NOT_QUANTITY = re.compile(
    rf"\d{{4}}\s*年(?:\s*\d{{1,2}}\s*月(?:\s*\d{{1,2}}\s*日)?)?|\d{{1,2}}\s*月\s*\d{{1,2}}\s*[日号]"
    rf"|\d{{1,2}}\s*月(?:底|初|末|中旬|上旬|下旬|份)|[{CN_DIGIT}]{{4}}年(?:[{CN_DIGIT}十]{{1,2}}月(?:[{CN_DIGIT}十]{{1,3}}日)?)?"
    rf"|^\s*[（(]?\s*[0-9０-９]{{1,2}}\s*[）)．.、](?!\d)|^\s*[（(]\s*[一二三四五六七八九十]+\s*[）)]"
    rf"|第\s*[\d{CN_NUM}]+\s*[条款项章节编目]"
)


def _quantities_only(clause: str) -> str:
    """The clause with its non-quantity numbers blanked out (same length, so offsets still hold)."""
    return _NOT_QUANTITY.sub(lambda m: " " * len(m.group(0)), clause)


def _has_measure(clause: str, measures: tuple[str, ...], money: bool) -> bool:
    if money:
        return bool(MONEY_FIGURE.search(clause))
    alts = "|".join(re.escape(m) for m in measures)
    return bool(re.search(rf"(?:\d|[{CN_NUM}])\s*(?:[余多]?\s*)?(?:{alts})", clause))


def _opens_list(text: str, colon: int) -> bool:
    """Whether the "：" at `colon` introduces a list ("按照下列标准执行：A；B；C", or items on the lines
    below), rather than a short label ("完成时限：4月底")."""
    start = max(text.rfind(c, 0, colon) for c in "。\n") + 1
    if len(_norm(text[start:colon])) < 6:
        return False
    rest = text[colon + 1:]
    line_end = rest.find("\n")
    return line_end == 0 or rest[: line_end if line_end >= 0 else len(rest)].count("；") >= 1


def _lead_in(text: str, pos: int) -> str:
    """The sentence that introduces the list the text at `pos` belongs to, or "".

    Legal text states a rule once and lists its cases: "…按照下列标准执行：\n(一)平原地区每户不超过A平方米；
    (二)山区每户不超过B平方米" — each item is read with its lead-in, and the lead-in is shared by all
    items, so what tells them apart (平原, 山区) decides."""
    colon = text.rfind("：", 0, pos)
    if colon < 0 or not _opens_list(text, colon):
        return ""
    # A lead-in ending its line governs the lines below it (the article's items); one followed by
    # "A；B；C" on the same line governs that sentence only.
    if not text[colon + 1:].startswith("\n") and "。" in text[colon:pos]:
        return ""
    start = max(text.rfind(c, 0, colon) for c in "。\n") + 1
    return text[start:colon]


def _figure_clauses(text: str) -> list[tuple[int, int]]:
    """Clauses (split at ，；。 and newlines), a list's lead-in split off its first item."""
    out = []
    for a, b in _clauses(text):
        colon = text.find("：", a, b)
        if colon > a and _opens_list(text, colon) and colon + 1 < b:
            out += [(a, colon), (colon + 1, b)]
        else:
            out.append((a, b))
    return out


def _figure_answer(question: str, qtype: str, passages: list[Passage], top: list[int]) -> Answer | None:
    q = _question_terms(question)
    pattern = DATE if qtype == "date" else NUMBER
    measures = asked_measures(question) if qtype == "number" else ()
    money = measures == ("元",)
    percent = bool(PERCENT_Q.search(question)) and qtype == "number"
    phone = qtype == "number" and bool(PHONE_ASKED.search(question))
    all_texts = [passages[i].text for i in top]
    clause_texts = [passages[i].text[a:b] for i in top for a, b in _clauses(passages[i].text)]
    weights = _rarity_weights(q, clause_texts + all_texts)
    best = None
    for rank, i in enumerate(top):
        p = passages[i]
        text = _mask_markings(p)
        sentences = _clauses(text, _SENT_SPLIT)
        deadlines = {(a, b): ctx for a, b, ctx in _deadline_clauses(p)}
        for a, b in _figure_clauses(text):
            clause = text[a:b]
            # a figure asked for is a quantity: dates, item numbers and article labels are blanked out
            figures = _quantities_only(clause) if qtype == "number" else clause
            found = [m for m in pattern.finditer(figures) if m.group(0).strip()]
            if qtype == "number":
                # A year ("2021年") is a date, not the figure asked for.
                found = [m for m in found if not (re.fullmatch(r"\d{4}", m.group(0).strip())
                                                  and clause[m.end():m.end() + 1] == "年")]
            if not found:
                continue
            context = next((text[s:e] for s, e in sentences if s <= a and b <= e), clause)
            for (da, db), ctx in deadlines.items():
                if da <= a and b <= db:
                    context = ctx  # a deadline line is about the item above it
            if p.kind != "table_row":
                context = _lead_in(text, a) + "\n" + context
            s = 0.5 * _coverage(q, clause, weights) + 0.5 * _coverage(q, context, weights)
            bonus = 0.0
            if measures and _has_measure(figures, measures, money):
                bonus = 0.15
            if percent and (re.search(r"[%％]|分之", clause)):
                bonus = 0.15
            if phone and PHONE_NUMBER.search(clause):
                bonus = 0.15
            if qtype == "date" and any(k in clause for k in ("时限", "截止", "完成", "前")):
                bonus += 0.05
            score = s + bonus - _rank_penalty(rank)
            if best is None or score > best[0]:
                best = (score, i, a, b, s, bonus)
    if best is None:
        return None
    _, i, a, b, s, bonus = best
    answer = passages[i].text[a:b].strip()
    certainty = 0.85 + (0.1 if bonus else 0.0)
    retrieval = _retrieval_support(passages, i)
    return Answer(
        answer=answer, answer_type=qtype, lead_units=[], supporting_units=[],
        confidence=_confidence(certainty, s, retrieval), support=[i],
        features={"clause_overlap": round(s, 4), "measure_match": bool(bonus),
                  "measure_asked": bool(measures or percent), "clause_span": [a, b], **retrieval},
    )


# --- documents -------------------------------------------------------------------------------------


def _iso_to_cn(iso: str) -> str | None:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", iso.strip())
    return f"{int(m.group(1))}年{int(m.group(2))}月{int(m.group(3))}日" if m else None


def _doc_key(p: Passage) -> tuple:
    return (p.doc_title, p.doc_number)


def _answer_document(question: str, passages: list[Passage], top: list[int]) -> Answer | None:
    qn = _norm(question)
    q = _question_terms(question)
    # Candidate documents: first passage of each, scored on title/文号 match and retrieval rank.
    docs: dict[tuple, list[int]] = {}
    for i in range(len(passages)):
        docs.setdefault(_doc_key(passages[i]), []).append(i)
    asked_number = DOC_NUMBER.search(qn)
    best = None
    for key, idxs in docs.items():
        p = passages[idxs[0]]
        title = _norm(p.doc_title or "")
        number_hit = bool(asked_number and p.doc_number and _norm(p.doc_number) == _norm(asked_number.group(0)))
        title_cov = _coverage(q, title)
        # A question naming no document ("要求…的是哪份文件") is matched on its passages' content.
        content_cov = max(clause_overlap(question, passages[j].text) for j in idxs)
        score = (1.0 if number_hit else 0.0) + title_cov + 0.5 * content_cov - _rank_penalty(min(idxs))
        if best is None or score > best[0]:
            best = (score, key, idxs, number_hit, title_cov, content_cov)
    if best is None:
        return None
    _, key, idxs, number_hit, title_cov, content_cov = best
    p = passages[idxs[0]]
    retrieval = _retrieval_support(passages, idxs[0])
    features = {"doc_number_match": number_hit, "title_overlap": round(title_cov, 4),
                "content_overlap": round(content_cov, 4), **retrieval}
    match = 1.0 if number_hit else max(title_cov, content_cov)
    answer, support, certainty = None, [idxs[0]], 0.9

    event = LAW_EVENT.search(qn)
    event_date = _event_date(event.group(0), passages, idxs) if event else None
    if DECREE_Q.search(qn):
        decree = _decree_number(qn, passages, idxs)
        if decree:
            answer, support = decree[1], [decree[0]]
            features["decree_in_text"] = True
    elif event_date and (event.group(0) != "发布" or not p.doc_number):
        # a law's own dates are in its text; the metadata date is one of them (often the last revision)
        answer, support = event_date[1], [event_date[0]]
        features["event_date_in_text"] = event.group(0)
    elif re.search(r"文号|发文字号|字号", qn) and not asked_number:
        cited = _cited_doc_number(question, passages)
        if cited and (re.search(r"依据|根据|引用|按照|落实", qn) or not p.doc_number or cited[0] > title_cov + 0.15):
            _, j, number = cited
            answer, support, certainty = number, [j], 0.85
            features["cited_in_text"] = True
        elif p.doc_number:
            answer = p.doc_number
    elif re.search(r"哪天|哪一天|什么时候|何时|日期|时间|哪年|几号|哪月|啥时候", qn):
        if p.date:
            cn = _iso_to_cn(p.date)
            shown = [j for j in idxs if cn and cn in _norm(passages[j].text)]
            answer = cn if shown else p.date  # the source's own form when a passage shows it
            support = shown[:1] or [idxs[0]]
    elif re.search(r"谁|机关|单位|部门|哪两个|哪几个|联合", qn):
        answer = p.issuer
    else:  # "<文号>是什么文件" / "规定…的是哪个文件"
        answer = p.doc_title
        if p.doc_number and not number_hit:
            answer += f"（{p.doc_number}）"  # which document: name it by title and 文号
        elif number_hit:
            details = [x for x in (p.issuer, p.date) if x]
            answer += f"（{'，'.join(details)}）" if details else ""
    if answer is None:
        certainty = 0.0
    return Answer(
        answer=answer, answer_type="document", lead_units=[], supporting_units=[],
        confidence=_confidence(certainty, match, retrieval), support=support, features=features,
    )


def _decree_number(qn: str, passages: list[Passage], idxs: list[int]) -> tuple[int, str] | None:
    """(passage, 令号) printed in the document's own passages; the one on the line of the asked event
    (发布 / 公布 / 修订) when the header lists several."""
    event = LAW_EVENT.search(qn) or re.search(r"修订|修正", qn)
    found = []
    for j in idxs:
        text = passages[j].text
        for m in DECREE_NUMBER.finditer(text):
            line_end = text.find("\n", m.end())
            line = text[text.rfind("\n", 0, m.start()) + 1: len(text) if line_end < 0 else line_end]
            found.append((bool(event and event.group(0) in line), -len(found), j, re.sub(r"\s", "", m.group(0))))
    if not found:
        return None
    _, _, j, number = max(found)
    return j, number




def _event_date(event: str, passages: list[Passage], idxs: list[int]) -> tuple[int, str] | None:
    """(passage, date as printed) of the asked event of a law, from its final article or its header."""
    patterns = [rf"自{EVENT_DATE}起{event}", rf"(?:^|\n)\s*{EVENT_DATE}[^\n。]{{0,40}}?{event}"]
    for pattern in patterns:
        for j in idxs:
            m = re.search(pattern, passages[j].text)
            if m:
                return j, re.sub(r"\s", "", m.group(1))
    if event in ("施行", "生效"):
        # "本条例自公布之日起施行": in force from the day it was published
        for j in idxs:
            if re.search(rf"自(?:公布|发布)之日起{event}", passages[j].text):
                published = _event_date("公布", passages, idxs) or _event_date("发布", passages, idxs)
                return published
    return None


def _cited_doc_number(question: str, passages: list[Passage]) -> tuple[float, int, str] | None:
    """A 文号 cited in passage text ("《…》（X办〔2021〕N号）") whose context matches the question."""
    q = _question_terms(question)
    best = None
    for j, p in enumerate(passages):
        prev_end = 0
        for m in DOC_NUMBER.finditer(p.text):
            # The cited title is what precedes the 文号, back to the previous 文号 or sentence end.
            start = max(prev_end, m.start() - 80, max(p.text.rfind(c, 0, m.start()) for c in "。；\n") + 1)
            context = p.text[start:m.start()]
            prev_end = m.end()
            score = _coverage(q, context + m.group(0)) - _rank_penalty(j)
            if best is None or score > best[0]:
                best = (score, j, re.sub(r"\s", "", m.group(0)))
    return best


# --- passages --------------------------------------------------------------------------------------


# What a rule says about a yes/no question: it is forbidden, required, allowed or unnecessary.
_POLARITY = re.compile(r"不得|禁止|严禁|必须|可以|不必|无须|无需|不需要|不予|有权|停止|暂停|应当停|免予")
# Whether something costs money is said with words of their own: "无偿为公众兑换", "免费提供", "不得收取".
_COST_POLARITY = re.compile(r"无偿|免费|免收|免交|免缴|不收取|不得收取|不收费|收取[^，。；]{0,6}费|按照[^，。；]{0,10}收费")


def _polarity_bonus(question: str, sentence: str) -> float:
    """A yes/no question is answered by what the rule allows, requires or forbids; a question about cost
    by a rule that says free or charged (a direct answer, so it weighs more)."""
    if COST_Q.search(question):
        return _COST_BONUS if _COST_POLARITY.search(sentence) else 0.0
    return _POLARITY_BONUS if _POLARITY.search(sentence) else 0.0


def _line_of(text: str, a: int, b: int) -> tuple[int, int]:
    """The line (in legal text: the 款) holding text[a:b]."""
    start = text.rfind("\n", 0, a) + 1
    end = text.find("\n", b)
    return _trim(text, start, len(text) if end < 0 else end)


def _sentence_cosines(passages: list[Passage], top: list[int]) -> dict[tuple[int, int, int], float]:
    """(passage, start, end) of each sentence of the top passages → its closeness to the question, min–max
    scaled over all of them: the cosine of the sentence window holding it (a long passage), else the
    passage's own cosine. Empty when no cosine is known (an index without dense vectors)."""
    raw: dict[tuple[int, int, int], float] = {}
    for i in top:
        p = passages[i]
        if not p.dense and not p.windows:
            continue
        for a, b in _clauses(p.text, _SENT_SPLIT):
            sentence = p.text[a:b].strip()
            raw[(i, a, b)] = next((cos for window, cos in p.windows if sentence and sentence in window), p.dense)
    if not raw:
        return {}
    lo, hi = min(raw.values()), max(raw.values())
    if hi - lo < 1e-6:
        return {}
    return {k: (v - lo) / (hi - lo) for k, v in raw.items()}


# How much the question's closeness to a sentence (the embedder's, through the sentence windows) adds to
# its character overlap when a passage is answered by its best sentence: a question in other words
# ("孩子上学按什么划片？") shares few characters with the sentence that answers it. Chosen on the fit split
# of the own questions (bench/eval_sentence.py).
DENSE_SENTENCE_WEIGHT = 0.5


def _answer_passage(question: str, passages: list[Passage], top: list[int], qtype: str = "passage") -> Answer:
    q = _question_terms(question)
    yes_no = qtype == "passage" and is_yes_no(question)
    closeness = _sentence_cosines(passages, top) if DENSE_SENTENCE_WEIGHT else {}
    best = None
    for rank, i in enumerate(top):
        text = passages[i].text
        ctx = _context(passages[i])
        for a, b in _clauses(text, _SENT_SPLIT):
            if text[b:b + 1] == "：" and _opens_list(text, b):
                continue  # a list's lead-in says what the items are about; it answers nothing itself
            s = _span_score(q, text, a, b, ctx + "\n" + _lead_in(text, a), None)
            score = s - _rank_penalty(rank) + DENSE_SENTENCE_WEIGHT * closeness.get((i, a, b), 0.0)
            score += _polarity_bonus(question, text[a:b]) if yes_no else 0.0
            if best is None or score > best[0]:
                best = (score, i, a, b, s)
    if best is None:
        return Answer(None, "passage", [], [], 0.0, [], {"clause_overlap": 0.0})
    _, i, a, b, s = best
    text = passages[i].text
    if yes_no:
        la, lb = _line_of(text, a, b)
        if lb - la <= _YES_NO_LINE_MAX:  # the whole provision, with its exceptions ("…应当暂停…。…可以…")
            a, b = la, lb
    retrieval = _retrieval_support(passages, i)
    return Answer(
        answer=text[a:b].strip(), answer_type="passage", lead_units=[], supporting_units=[],
        confidence=_confidence(0.6 if qtype == "passage" else 0.35, s, retrieval), support=[i],
        features={"clause_overlap": round(s, 4), "intended_type": qtype, "yes_no": yes_no, **retrieval},
    )


_POLARITY_BONUS = 0.1
_COST_BONUS = 0.15
_YES_NO_LINE_MAX = 100


# --- entry point -----------------------------------------------------------------------------------

TOP_K = 5  # passages considered for extraction; retrieval order beyond that is too weak to use


def answer_question(question: str, passages: list[Passage]) -> Answer:
    """Answer from the passages (best first). Always tries; abstention is the caller's decision."""
    qtype = classify_question(question)
    if not passages:
        return Answer(None, "none", [], [], 0.0, [], {"intended_type": qtype})
    top = list(range(min(TOP_K, len(passages))))
    answer: Answer | None = None
    if qtype == "person":
        return _answer_person(question, passages, top)
    if qtype == "document":
        answer = _answer_document(question, passages, top)
    else:
        field_hit = _field_answer(question, qtype, passages, top)
        if field_hit and field_hit[4] >= 0.6:
            answer = _from_field(field_hit, qtype, passages)
        elif qtype == "lead_unit":
            answer = _answer_lead(question, passages, top)
        elif qtype in ("number", "date"):
            answer = _figure_answer(question, qtype, passages, top)
    if answer is not None and answer.answer_type == "lead_unit" and "field" not in answer.features:
        # No marking closes text about the question (e.g. "办公室设在市X局" is prose): the best
        # sentence is a better answer than a marking of some other task.
        plain = _answer_passage(question, passages, top, qtype)
        lead_match, plain_match = answer.features["clause_overlap"], plain.features["clause_overlap"]
        if lead_match < 0.5 and plain_match >= lead_match + 0.25:
            answer = plain
    if answer is None or answer.answer is None:
        answer = _answer_passage(question, passages, top, qtype)
    if qtype == "lead_unit" and answer.answer_type == "passage" and answer.answer:
        answer = _unit_of_sentence(question, answer) or answer
    answer.features.setdefault("intended_type", qtype)
    if "clause_overlap" not in answer.features:
        used = passages[answer.support[0]].text if answer.support else ""
        answer.features["clause_overlap"] = clause_overlap(question, used)
    return answer


# A body named in running text ends like one ("…主管部门", "…人民政府", "湖北省地震局"); the words that
# separate it from the rest of its sentence are its verbs and prepositions ("当事人应当向X进行登记",
# "X已在…设立", "由X负责", "X要按照…负责提供", "其办公室设在X").
_BODY_END = re.compile(
    r"(?:主管部门|行政部门|管理部门|部门|总局|分局|局|厅|部|委员会|委|办公室|政府|国务院|院|机关|机构|中心|法院|检察院|银行|协会|总社)$")
_BODY_SEPARATORS = re.compile(
    r"[，。；、：:,;（）()“”《》\s]|应当|必须|可以|已经|会同|负责|组织|按照|根据|依照|或者|以及|进行|成立|设立|设置|组建|设在"
    r"|[应须要已向由经请对在将把和及与的于从等]")


_ASK_BODY = re.compile(r"(?:哪个|哪些|哪家|什么|哪一个|哪几个|哪一级)(?:部门|单位|机构|机关|人民政府|政府)?|谁")


def _unit_of_sentence(question: str, answer: Answer) -> Answer | None:
    """A unit question answered by a sentence that names the body in prose ("湖北省地震局已在…设立了…",
    "当事人应当向县以上住房城乡建设主管部门…进行登记", "其办公室设在国务院林业行政主管部门"): the body
    whose surroundings hold the question's words, as the answer. Not a marking made for the purpose, so
    the decision weighs it as prose."""
    sentence = answer.answer or ""
    q = _question_terms(question)
    # the words on either side of the asking phrase say where the body stands ("设在哪个部门" → after 设在)
    qn = _norm(question)
    ask = _ASK_BODY.search(qn)
    left = _norm(re.sub(r"[由归是找向的]+$", "", qn[:ask.start()]))[-2:] if ask else ""
    right = _norm(re.sub(r"^[来去的]+", "", qn[ask.end():]))[:2] if ask else ""
    best = None
    pos = 0
    for piece in _BODY_SEPARATORS.split(sentence):
        start = sentence.find(piece, pos) if piece else pos
        pos = start + len(piece)
        body = re.sub(r"^[（(]?(?:第[一二三四五六七八九十百\d]+条|[一二三四五六七八九十\d]+)[)）.、]?", "", piece.strip())
        if not (3 <= len(body) <= 20 and _BODY_END.search(body)) or re.match(r"^(?:本|该|其|有关|相关|各|上述)", body):
            continue
        if sentence[pos:pos + 1] in ("：", ":"):
            continue  # a label ("发文机关：…"), not a body
        around = sentence[max(0, start - 12):start] + "\n" + sentence[pos:pos + 16]
        score = _coverage(q, around)
        if len(left) == 2 and left in sentence[max(0, start - 6):start]:
            score += 0.5
        if len(right) == 2 and right in sentence[pos:pos + 8]:
            score += 0.5
        if best is None or score > best[0] + 1e-9:
            best = (score, body)
    if best is None:
        return None
    answer.features.update({"sentence": sentence, "marker_style": "sentence", "lead_explicit": False})
    answer.answer, answer.answer_type = best[1], "lead_unit"
    answer.lead_units = [best[1]]
    answer.confidence = round(answer.confidence * 0.9, 4)
    return answer


def _answer_person(question: str, passages: list[Passage], top: list[int]) -> Answer:
    """The name of whoever holds the asked role; no answer when no list or sentence fills it (a unit
    named for the task is not a person)."""
    role = analyse(question).person_role
    field_hit = _field_answer(question, "person", passages, top)
    if field_hit and field_hit[4] >= 0.6 and re.fullmatch(r"[\u4e00-\u9fa5](?:[ \u3000]?[\u4e00-\u9fa5]){1,3}",
                                                          field_hit[3].strip()):
        answer = _from_field(field_hit, "person", passages)  # a "包抓领导：NAME" cell
        answer.answer_type = "person"
        return answer
    found = find_person(question, role, passages, top)
    if found is None:
        return Answer(None, "none", [], [], 0.0, [], {"intended_type": "person", "role_asked": role,
                                                       "clause_overlap": 0.0})
    retrieval = _retrieval_support(passages, found.passage)
    certainty = 0.9 if role else 0.6
    return Answer(
        answer=found.entry.name, answer_type="person", lead_units=[], supporting_units=[],
        confidence=_confidence(certainty, found.match, retrieval), support=[found.passage],
        features={"clause_overlap": round(found.match, 4), "person_role": found.entry.role,
                  "person_title": found.entry.title, "role_asked": None, "intended_type": "person", **retrieval},
    )


def _from_field(hit: tuple, qtype: str, passages: list[Passage]) -> Answer:
    """An answer from a table cell / label line the question names by its column."""
    score, i, label, value, lm, cov = hit
    retrieval = _retrieval_support(passages, i)
    is_unit = bool(re.search(r"单位|部门", label))
    units = [u for u in re.split(r"[、，,；;\s]+", value) if u] if is_unit else []
    atype = "lead_unit" if is_unit else (qtype if qtype in ("number", "date") else "passage")
    return Answer(
        answer=value, answer_type=atype, lead_units=units[:1] if is_unit else [],
        supporting_units=units[1:] if is_unit else [],
        confidence=_confidence(0.85, cov, retrieval), support=[i],
        features={"field": label, "label_match": round(lm, 4), "clause_overlap": round(cov, 4), **retrieval},
    )
