"""Unit attribution: which units lead / support which task in a passage of a Chinese government document.

Gazette documents mark the responsible units in four ways; all of them are found here and each
annotation records the *task span* it belongs to, so that a question can be matched to the right task
(a paragraph often carries several annotations, one per task):

* ``inline``  — a parenthesis that closes the task(s) before it: "…服务政策（市民政局、妇联负责）。",
  "（市X局〈Y局〉牵头）", "（市X局牵头，市Y委员会、Z局负责）",
  "（牵头单位：水务局；责任单位：自然资源局、应急管理局）", "(牵头单位:市水务局,配合单位:各镇、农林场)".
  Its task span runs from the end of the previous annotation (or the passage start) to the parenthesis.
* ``unit_lines`` — lines after an item: "牵头单位：市X局\\n配合单位：…\\n完成时限：4月底". A block of
  such lines belongs to the item text above it (back to the previous block). Other label lines in the
  block (完成时限) are kept in ``fields`` so that a deadline can be attributed to its item too.
* ``table``  — a table row rendered "列名：值；列名：值"; unit columns are 牵头部门/责任单位/配合部门….
  With only a 责任单位 column, the first unit listed is conventionally the lead.
* ``fragment`` — the remains of an annotation cut by a page break: a passage that opens with
  "单位：X局、…）" (closing half) or ends with "（牵头单位：X局；配合" (opening half).

* ``prose`` — laws and regulations name the responsible body in the sentence itself ("由X负责",
  "X统一领导…", "X是…的主管部门"); `find_prose_responsibilities` finds those separately (they are not
  markings, and `find_unit_annotations` does not return them).

Roles: ``lead`` (牵头; for "X负责" with no 牵头 marker the responsible units lead), ``responsible`` (责任),
``cooperating`` (配合/协办). ``supporting`` = responsible + cooperating units that are not leads.
All functions are pure and work on character offsets into the text they are given.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- marker vocabulary -------------------------------------------------------------------------

# "牵头单位：", "配合 单位:", "责任部门：" — whitespace tolerated because page-break repairs leave spaces.
_ROLE_LABEL = re.compile(r"(牵\s*头|责\s*任|配\s*合|协\s*办|协\s*助)\s*(单\s*位|部\s*门)\s*[:：]")
_ROLE_OF = {"牵头": "lead", "责任": "responsible", "配合": "cooperating", "协办": "cooperating", "协助": "cooperating"}
# Inline endings: "X牵头", "X牵头负责", "X负责", "X负责落实", "X配合".
_TAIL_WORDS = r"(?:牵头负责|牵头|负责落实|负责|具体落实|落实|配合)"
_OPEN = "（("
_CLOSE = "）)"
# A line "牵头单位：…" / "完成时限：…" / "责任领导：…": short label then colon at the start of a line.
_LINE_LABEL = re.compile(
    r"^[ \t\u3000]*([^\s：:，,。；;、（）()]{1,6}(?:[ \u3000]?[^\s：:，,。；;、（）()]{1,3}){0,3})[ \t\u3000]*[:：][ \t\u3000]*"
)
# Item openings that must never be taken for the continuation of a wrapped unit line.
_ITEM_START = re.compile(r"^\s*(?:[（(]?\s*[0-9０-９]+\s*[)）.．、]|[（(]\s*[一二三四五六七八九十]+\s*[)）]|[一二三四五六七八九十]+、)")
# Top-level separators inside a unit list; brackets (〈〉（）()【】) protect what they enclose.
_LIST_SEPS = "、，,；;/ \t\u3000"
_BRACKETS = {"〈": "〉", "（": "）", "(": ")", "【": "】", "《": "》", "<": ">"}
_TABLE_FIELD = re.compile(r"(?:^|；)\s*([^；;：:，。、\n]{1,20}?)\s*[:：]")
_NOT_UNIT = re.compile(r"^(?:等|等部门|等单位|各|/|-|—|无|牵头|责任|配合|协办|协助)$")
# The time labels that may sit in a unit-line block and belong to the same item.
_TIME_LABEL = re.compile(r"^(?:完成时限|时限|完成时间|截止时间|时间节点|办结时限)$")
# Continuation of a wrapped unit line: previous line ends mid-list, or the new one starts with a joiner.
_WRAP_END = "，、,各和及与"
_WRAP_START = "及和、，与"


@dataclass
class UnitAnnotation:
    """One unit marking and the task text it belongs to.

    ``start``/``end`` delimit the task span in the text (what the units are responsible for);
    ``marker_start``/``marker_end`` delimit the marking itself (parenthesis, unit lines or unit cells).
    ``lead_text``/``supporting_text`` are the exact passage substrings naming the units, for answers.
    """

    lead: list[str]
    supporting: list[str]
    start: int
    end: int
    marker_start: int
    marker_end: int
    style: str  # "inline" | "unit_lines" | "table" | "fragment"
    responsible: list[str] = field(default_factory=list)
    cooperating: list[str] = field(default_factory=list)
    lead_explicit: bool = True  # a 牵头 marker (or lead column) named the lead; False: inferred
    lead_text: str | None = None
    supporting_text: str | None = None
    aliases: dict[str, list[str]] = field(default_factory=dict)  # "市X局" -> ["Y局"]
    fields: dict[str, tuple[int, int]] = field(default_factory=dict)  # other label lines: 完成时限 -> span
    role_texts: dict[str, str] = field(default_factory=dict)  # "lead"/"responsible"/"cooperating" -> as written
    duty: str = ""  # prose only: the verb that makes the body responsible ("主管", "制定", "统一领导")


@dataclass
class Attribution:
    """The annotation that applies to a span, and whether it truly covers it (else nearest one)."""

    annotation: UnitAnnotation
    exact: bool


# --- unit lists --------------------------------------------------------------------------------


def _split_top_level(s: str) -> list[tuple[int, int]]:
    """(start, end) pieces of `s` split on list separators outside brackets."""
    pieces, depth_stack, begin = [], [], 0
    for i, ch in enumerate(s):
        if ch in _BRACKETS:
            depth_stack.append(_BRACKETS[ch])
        elif depth_stack and ch == depth_stack[-1]:
            depth_stack.pop()
        elif not depth_stack and ch in _LIST_SEPS:
            pieces.append((begin, i))
            begin = i + 1
    pieces.append((begin, len(s)))
    return pieces


def _clean_unit(name: str) -> str:
    name = name.strip(" \t\u3000\n。．.：:")
    # A closing bracket with no opening one is the end of the marking, not part of the name.
    while name and name[-1] in "）)" and name.count("（") + name.count("(") < name.count("）") + name.count(")"):
        name = name[:-1].rstrip()
    return name


def split_unit_list(s: str) -> tuple[list[str], dict[str, list[str]]]:
    """Split "市民政局、妇联" / "水务局，各镇党委和政府" into unit names.

    Names stay whole ("市X会（Y指挥部）办公室", "各镇党委和政府"); a trailing bracket is an
    alternative name: "市X局〈Y局〉" gives "市X局" with alias "Y局".
    Returns (names, aliases).
    """
    names: list[str] = []
    aliases: dict[str, list[str]] = {}
    for a, b in _split_top_level(s):
        raw = _clean_unit(s[a:b])
        if not raw or _NOT_UNIT.match(raw):
            continue
        m = re.match(r"^(.+?)[〈（(]([^〈〉（）()]+)[〉）)]$", raw)
        if m and len(m.group(1)) >= 2:
            main, alt = m.group(1), m.group(2)
            names.append(main)
            aliases[main] = [_clean_unit(x) for x in re.split(r"[、，,]", alt) if _clean_unit(x)]
        else:
            names.append(raw)
    return names, aliases


def _strip_span(text: str, a: int, b: int, chars: str = " \t\u3000\n，,；;。：:") -> tuple[int, int]:
    while a < b and text[a] in chars:
        a += 1
    while b > a and text[b - 1] in chars:
        b -= 1
    return a, b


# --- role segments inside one marking ----------------------------------------------------------


@dataclass
class _Roles:
    lead: list[str] = field(default_factory=list)
    responsible: list[str] = field(default_factory=list)
    cooperating: list[str] = field(default_factory=list)
    texts: dict[str, list[str]] = field(default_factory=dict)  # role -> list texts as written
    aliases: dict[str, list[str]] = field(default_factory=dict)
    lead_explicit: bool = True

    def add(self, role: str, text: str, a: int, b: int) -> None:
        a, b = _strip_span(text, a, b)
        # A marking cut by a page break may end in a half label: "（牵头单位：农业农村局；配合".
        cut = re.search(r"[；;，,]\s*(牵\s*头|责\s*任|配\s*合|协\s*办)\s*(单\s*位|部\s*门)?\s*$", text[a:b])
        if cut:
            a, b = _strip_span(text, a, a + cut.start())
        # A newline inside one list is a page-break wrap ("市直各部门\n及人民团体"): join the halves.
        value = re.sub(r"[ \t\u3000]*\n\s*", "", text[a:b])
        names, aliases = split_unit_list(value)
        if not names:
            return
        self.aliases.update(aliases)
        self.texts.setdefault(role, []).append(value)
        if role == "lead":
            self.lead += names
        else:
            (self.responsible if role == "responsible" else self.cooperating).extend(names)


def _parse_labeled(text: str, a: int, b: int) -> _Roles | None:
    """"牵头单位：A；责任单位：B" (offsets a..b of `text`)."""
    labels = list(_ROLE_LABEL.finditer(text, a, b))
    if not labels:
        return None
    roles = _Roles()
    for i, m in enumerate(labels):
        seg_end = labels[i + 1].start() if i + 1 < len(labels) else b
        role = _ROLE_OF[re.sub(r"\s", "", m.group(1))]
        roles.add(role, text, m.end(), seg_end)
    return roles


_LEAD_THEN_REST = re.compile(r"牵\s*头(?:负责)?\s*[，,；;]\s*")


def _parse_tail_style(text: str, a: int, b: int) -> _Roles | None:
    """"A牵头", "A牵头，B负责落实", "A负责", "A、B负责落实" (offsets a..b of `text`)."""
    body = text[a:b]
    m_end = re.search(_TAIL_WORDS + r"\s*$", body)
    if not m_end:
        return None
    roles = _Roles()
    m_mid = _LEAD_THEN_REST.search(body)
    if m_mid:  # lead part, then responsible/cooperating part that ends with the tail word
        roles.add("lead", text, a, a + m_mid.start())
        tail = m_end.group(0).strip()
        rest_role = "cooperating" if tail == "配合" else "responsible"
        roles.add(rest_role, text, a + m_mid.end(), a + m_end.start())
        return roles if roles.lead else None
    tail = m_end.group(0).strip()
    if tail.startswith("牵头"):
        roles.add("lead", text, a, a + m_end.start())
    elif tail == "配合":
        roles.add("cooperating", text, a, a + m_end.start())
    else:  # "X负责": the responsible units are the leads (no 牵头 marker)
        roles.add("lead", text, a, a + m_end.start())
        roles.responsible = list(roles.lead)
        roles.lead_explicit = False
    if not (roles.lead or roles.cooperating):
        return None
    # A real annotation names units, not a clause: "由镇总会负责" or long prose are not markings.
    if any(len(u) > 24 or u.startswith("由") for u in roles.lead + roles.cooperating):
        return None
    return roles


def _parse_marking(text: str, a: int, b: int) -> _Roles | None:
    """Roles named by the content text[a:b] of a parenthesis, or None when it is not a marking."""
    content = text[a:b]
    if "。" in content or len(content) > 200 or not content.strip():
        return None
    if _ROLE_LABEL.match(content.lstrip()):
        return _parse_labeled(text, a, b)
    return _parse_tail_style(text, a, b)


def _finish(roles: _Roles, text: str, style: str, start: int, end: int, ms: int, me: int) -> UnitAnnotation:
    """Build the annotation: fill `supporting`, infer a lead when only 责任 units are named."""
    lead = list(roles.lead)
    lead_explicit = roles.lead_explicit
    role_texts = {r: "、".join(v) for r, v in roles.texts.items()}
    lead_text = role_texts.get("lead")
    if not lead and roles.responsible and style != "table":
        # "责任单位：A、B" alone: like "A、B负责", the responsible units are the leads.
        lead, lead_explicit = list(roles.responsible), False
        lead_text = role_texts.get("responsible")
    supporting = [u for u in roles.responsible + roles.cooperating if u not in lead]
    support_parts = [role_texts[r] for r in ("responsible", "cooperating") if r in role_texts]
    support_text = "、".join(p for p in support_parts if p != lead_text) or None
    if support_text and split_unit_list(support_text)[0] != supporting:
        support_text = "、".join(supporting) or None  # e.g. a table whose first 责任单位 became the lead
    ann = UnitAnnotation(
        lead=lead, supporting=supporting, start=start, end=end, marker_start=ms, marker_end=me,
        style=style, responsible=list(roles.responsible), cooperating=list(roles.cooperating),
        lead_explicit=lead_explicit, lead_text=lead_text, supporting_text=support_text,
        aliases=dict(roles.aliases),
    )
    ann.role_texts = role_texts
    return ann


# --- the four marking styles -------------------------------------------------------------------


def _matching_close(text: str, i: int) -> int | None:
    """Index of the bracket closing text[i] (nested brackets allowed), or None if unclosed."""
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth == 0:
                return j
    return None


def _inline_markings(text: str) -> list[tuple[int, int, _Roles, str]]:
    """(marker_start, marker_end, roles, style) for every top-level parenthesis that names units."""
    found, i = [], 0
    while i < len(text):
        if text[i] not in _OPEN:
            i += 1
            continue
        j = _matching_close(text, i)
        if j is None:
            # Unclosed at the end of a passage: the opening half of an annotation cut by a page break.
            roles = _parse_labeled(text, i + 1, len(text)) if _ROLE_LABEL.match(text[i + 1:].lstrip()) else None
            if roles and "。" not in text[i + 1:] and (roles.lead or roles.responsible):
                found.append((i, len(text), roles, "fragment"))
            break
        roles = _parse_marking(text, i + 1, j)
        if roles:
            found.append((i, j + 1, roles, "inline"))
        i = j + 1
    return found


def _opening_fragment(text: str) -> tuple[int, int, _Roles] | None:
    """A passage opening with the closing half of a cut annotation: "单位：A、B）"."""
    m = re.match(r"^\s*(?:单\s*位|部\s*门)\s*[:：]([^（(）)。\n]{1,200})[）)]", text)
    if not m:
        return None
    roles = _Roles()
    # The role word was cut off with the other half; it is the later one (责任/配合), so: supporting.
    roles.add("cooperating", text, m.start(1), m.end(1))
    return (m.start(), m.end(), roles) if roles.cooperating else None


def _lines(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _wraps(text: str, last_role: tuple, line: str) -> bool:
    """Whether `line` continues the unit list of `last_role` (a line split by a page break)."""
    stripped = line.strip()
    if not stripped or _ITEM_START.match(line) or "。" in stripped or len(stripped) > 60:
        return False
    if _LINE_LABEL.match(line) or "：" in stripped or ":" in stripped:
        return False
    prev = text[last_role[2]:last_role[3]].rstrip()
    return bool(prev) and (prev[-1] in _WRAP_END or stripped[0] in _WRAP_START)


def _unit_line_blocks(text: str) -> list[UnitAnnotation]:
    """Blocks of "牵头单位：…" lines; each belongs to the item text above it."""
    annotations: list[UnitAnnotation] = []
    lines = _lines(text)
    prev_end = 0
    i = 0
    while i < len(lines):
        a, b = lines[i]
        if not _ROLE_LABEL.match(text[a:b].lstrip()):
            i += 1
            continue
        roles, extra = _Roles(), {}
        block_start, block_end = a, b
        last_role = None  # (role, text, value_start, value_end) of the latest unit line, extended if wrapped
        while i < len(lines):
            a, b = lines[i]
            line = text[a:b]
            if not line.strip():
                i += 1
                continue
            indent = len(line) - len(line.lstrip())
            m_role = _ROLE_LABEL.match(line[indent:])
            m_label = _LINE_LABEL.match(line)
            if m_role:
                if last_role:
                    roles.add(*last_role)
                role = _ROLE_OF[re.sub(r"\s", "", m_role.group(1))]
                last_role = (role, text, a + indent + m_role.end(), b)
            elif m_label and _TIME_LABEL.match(re.sub(r"\s", "", m_label.group(1))):
                if last_role:
                    roles.add(*last_role)
                    last_role = None
                extra[re.sub(r"\s", "", m_label.group(1))] = (a + indent, b)
            elif last_role and _wraps(text, last_role, line):
                # A unit line wrapped by a page break ("…市直各部门" / "及人民团体，…"): same list.
                last_role = (last_role[0], text, last_role[2], b)
            else:
                break
            block_end = b
            i += 1
        if last_role:
            roles.add(*last_role)
        if roles.lead or roles.responsible or roles.cooperating:
            t_start, t_end = _strip_span(text, prev_end, block_start)
            ann = _finish(roles, text, "unit_lines", t_start, t_end, block_start, block_end)
            ann.fields = extra
            annotations.append(ann)
        prev_end = block_end
    return annotations


def parse_table_fields(text: str) -> list[tuple[str, int, int]]:
    """Cells of a row rendered "列名：值；列名：值" as (label, value_start, value_end); [] if not a row."""
    matches = list(_TABLE_FIELD.finditer(text))
    if len(matches) < 2 or matches[0].start() != 0 and text[: matches[0].start()].strip():
        return []
    cells = []
    for k, m in enumerate(matches):
        v_end = matches[k + 1].start() if k + 1 < len(matches) else len(text)
        a, b = _strip_span(text, m.end(), v_end, " \t\u3000\n；")
        cells.append((re.sub(r"\s", "", m.group(1)), a, b))
    return cells


def _table_annotation(text: str) -> UnitAnnotation | None:
    cells = parse_table_fields(text)
    if not cells:
        return None
    roles = _Roles()
    marker_cells = []
    for label, a, b in cells:
        m = re.search(r"(牵头|责任|配合|协办|协助)(单位|部门)", label)
        if m and b > a:
            roles.add(_ROLE_OF[m.group(1)], text, a, b)
            marker_cells.append((a, b))
    if not (roles.lead or roles.responsible or roles.cooperating):
        return None
    if not roles.lead and roles.responsible:
        # Only a 责任单位 column: by convention the first unit listed leads, all are responsible.
        roles.lead = [roles.responsible[0]]
        roles.texts["lead"] = [roles.responsible[0]]
        roles.lead_explicit = False
    ms = min(a for a, _ in marker_cells)
    me = max(b for _, b in marker_cells)
    return _finish(roles, text, "table", 0, len(text), ms, me)


# A document's own convention, declared once: "（X、Y负责，排在第一位的部门为牵头部门，下同）" — in every
# "X、Y负责" of that document the first-listed unit leads and the others support.
FIRST_LISTED_LEADS = re.compile(
    r"[，,；;]?\s*(?:(?:排在?|列在?|位列|排名)\s*(?:第一|首)\s*[位个]?|第一个)的?\s*(?:部门|单位)?\s*(?:为|是)?\s*"
    r"牵头(?:部门|单位)(?:\s*[，,；;]\s*下同)?"
)


def declares_first_listed_lead(text: str) -> bool:
    """Whether the text declares that the first-listed unit of a marking leads."""
    return bool(FIRST_LISTED_LEADS.search(text))


def annotations_under_convention(text: str, kind: str | None, first_listed_leads: bool) -> list[UnitAnnotation]:
    """`find_unit_annotations` for a passage of a document that declares that the first-listed unit
    leads: the declaration is blanked (offsets kept) so that its parenthesis reads as a marking, and
    every marking that names no lead of its own ("X、Y负责") gets its first unit as the lead."""
    if not first_listed_leads:
        return find_unit_annotations(text, kind)
    blanked = FIRST_LISTED_LEADS.sub(lambda m: " " * len(m.group(0)), text)
    out = find_unit_annotations(blanked, kind)
    for ann in out:
        if ann.style in ("inline", "unit_lines", "fragment") and not ann.lead_explicit and len(ann.lead) > 1:
            first, rest = ann.lead[0], ann.lead[1:]
            ann.lead, ann.lead_explicit, ann.lead_text = [first], True, first
            ann.supporting = rest + [u for u in ann.supporting if u not in rest and u != first]
            ann.supporting_text = "、".join(ann.supporting) or None
    return out


def find_unit_annotations(text: str, kind: str | None = None) -> list[UnitAnnotation]:
    """All unit markings of a passage, in text order, each with the task span it closes.

    `kind` is the passage kind ("table_row" forces the table reading; otherwise it is detected).
    """
    if kind == "table_row" or (kind is None and parse_table_fields(text)):
        ann = _table_annotation(text)
        if ann:
            return [ann]
        if kind == "table_row":
            return []
    annotations: list[UnitAnnotation] = []
    frag = _opening_fragment(text)
    if frag:
        ms, me, roles = frag
        annotations.append(_finish(roles, text, "fragment", 0, 0, ms, me))
    annotations += _unit_line_blocks(text)
    block_spans = [(a.marker_start, a.marker_end) for a in annotations if a.style == "unit_lines"]
    prev_end = frag[1] if frag else 0
    for ms, me, roles, style in _inline_markings(text):
        if any(bs <= ms < be for bs, be in block_spans) or (frag and ms < frag[1]):
            continue
        # The task runs from the previous marking to this one; a new unit-line block also resets it.
        start = max([prev_end] + [be for bs, be in block_spans if be <= ms])
        t_start, t_end = _strip_span(text, start, ms)
        annotations.append(_finish(roles, text, style, t_start, t_end, ms, me))
        prev_end = me
    annotations.sort(key=lambda x: x.marker_start)
    return annotations


def units_for_span(
    text: str, start: int, end: int, annotations: list[UnitAnnotation] | None = None
) -> Attribution | None:
    """The annotation whose task span covers text[start:end] (most overlap); else the nearest one.

    The nearest fallback is flagged ``exact=False``: for unit lines it is the block right above (the
    appendix layout "牵头单位…\\n主要职责：…" lists units before the duties), otherwise the next marking.
    """
    annotations = find_unit_annotations(text) if annotations is None else annotations
    if not annotations:
        return None
    best, best_ov = None, 0
    for ann in annotations:
        ov = min(end, ann.end) - max(start, ann.start)
        if ov > best_ov or (ov == best_ov and ov > 0 and ann.end - ann.start < best.end - best.start):
            best, best_ov = ann, ov
    if best is not None and best_ov > 0:
        return Attribution(best, True)
    if start == end == 0 and annotations[0].start == annotations[0].end == 0:
        return Attribution(annotations[0], True)
    before = [a for a in annotations if a.marker_end <= start]
    after = [a for a in annotations if a.marker_start >= end]
    if before and before[-1].style == "unit_lines":
        return Attribution(before[-1], False)
    if after:
        return Attribution(after[0], False)
    return Attribution(before[-1], False) if before else None


# --- responsibility stated in running text (laws, regulations) ----------------------------------------
#
# Legal text names the responsible body in the sentence itself, not in a marking:
#   "…由县级以上人民政府卫生主管部门负责。"                     (由 X + verb)
#   "…由市公安机关会同有关部门制定"                            (由 X 会同 Y + verb: X leads, Y cooperates)
#   "县级以上地方人民政府统一领导本行政区域内的…工作"           (X at the clause start + verb)
#   "市城市园林绿化局是本市名泉保护工作的主管部门"               (X 是 … 主管部门)
# X is a span of the sentence that ends in a word for a body (部门, 机关, 人民政府, 委员会, 局 …) and is
# followed by a verb of responsibility, so "由国务院文物主管部门认定" gives the whole "国务院文物主管部门",
# not "国务院". The task span of such an annotation is the sentence holding it (style "prose").

# Words a body's name ends with. Longer forms first so that the shortest-match search below stops at them.
_BODY_END = (
    r"(?:人民政府|人民法院|人民检察院|委员会|办事处|指挥部|领导小组|小组|部门|机关|机构|政府|单位|社会组织|团体|"
    r"企业|银行|公司|协会|基金会|中心|办公室|学校|医院|法院|检察院|主体|局|厅|委|署|院|会|所|站|队|部|办)"
    r"(?<!社会)(?<!机会)(?<!大会)"
)
# Verbs of responsibility that follow the body's name (the name ends right before one of them).
_DUTY_VERB = (
    r"(?:统一领导|领导|负责|主管|牵头|会同|商同|组织|统筹|协调|指导|监督|管理|实施|制定|制发|拟定|编制|认定|确定|"
    r"核定|审批|审核|审查|批准|核发|颁发|发放|办理|受理|处理|查处|征收|收取|决定|指定|公布|发布|备案|承担|"
    r"按照|依照|依法|根据|应当|可以|予以|给予|处以|责令)"
)
# "X是本市…的主管部门" / "X为…的行政主管部门".
_IS_AUTHORITY = re.compile(r"^(?:是|为)[^，。；;\n]{0,40}?(?:主管|管理|监管|执法|责任|负责)(?:部门|机关|机构|单位|主体)")
# The strong verbs: these sentences assign a duty; "应当/可以/依法…" only describe what a body does.
_STRONG_DUTY = re.compile(r"^(?:统一领导|领导|负责|主管|牵头|会同|商同|组织实施|统筹|制定|制发|认定|核定|审批|核发)")
# Where a sentence's subject starts: after an article / item number ("第四条 ", "（二）", "十一、").
_CLAUSE_HEAD = re.compile(
    r"^\s*(?:第[一二三四五六七八九十百零〇\d]+条\s*|[（(][一二三四五六七八九十\d]+[)）]\s*|"
    r"[一二三四五六七八九十]+、\s*|\d+[.．、]\s*)*"
)
_BODY_BY = re.compile(rf"由((?:(?!由)[^，。；;：:\n]){{0,40}}?{_BODY_END})(?={_DUTY_VERB})")
# A subject: the shortest span from the clause head that ends in a body word and is followed by a duty.
_BODY_SUBJECT = re.compile(rf"((?:(?!由)[^，。；;：:\n（）()]){{0,38}}?{_BODY_END})(?={_DUTY_VERB}|是|为)")
_COOPERATING = re.compile(rf"^(?:会同|商同|协同)((?:[^，。；;：:\n]){{1,40}}?{_BODY_END})")


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences (split at 。！？； and newlines) as stripped offsets."""
    spans, start = [], 0
    for m in re.finditer(r"[。！？!?；;\n]", text):
        spans.append(_strip_span(text, start, m.start(), " \t\u3000\n"))
        start = m.end()
    spans.append(_strip_span(text, start, len(text), " \t\u3000\n"))
    return [(a, b) for a, b in spans if b > a]


def _prose_annotation(text: str, s_start: int, s_end: int, x_start: int, x_end: int, explicit: bool,
                      duty: str) -> UnitAnnotation | None:
    name = text[x_start:x_end]
    # A body named with a clause inside it ("…的，由…") or an enumeration of tasks is not a name.
    if not name or len(name) > 40 or re.search(r"[，。；;：:]", name):
        return None
    roles = _Roles()
    roles.lead, roles.texts["lead"] = [name], [name]
    roles.lead_explicit = explicit
    after = text[x_end:s_end]
    m = _COOPERATING.match(after)
    if m:  # "X会同有关单位制定": X leads, the others cooperate; the duty is what follows them
        roles.cooperating = [m.group(1)]
        roles.texts["cooperating"] = [m.group(1)]
        duty = re.split(r"[，,。；;]", after[m.end():], maxsplit=1)[0][:8] or duty
    ann = _finish(roles, text, "prose", s_start, s_end, x_start, x_end)
    ann.duty = duty
    return ann


def find_prose_responsibilities(text: str) -> list[UnitAnnotation]:
    """Bodies that running text makes responsible for something, one annotation per sentence at most.

    ``lead_explicit`` is True for the strong forms (由 X 负责/制发…, X 负责/主管/统一领导…, X 是…主管部门)
    and False when the sentence only says what the body shall do ("X应当…", "X依法…").
    """
    found: list[UnitAnnotation] = []
    for s, e in _sentence_spans(text):
        sentence = text[s:e]
        ann = None
        m = _BODY_BY.search(sentence)
        if m:
            # "由X负责认定并公布": the duty is the rest of the clause after X (short in this form)
            duty = re.split(r"[，,。；;]", sentence[m.end(1):], maxsplit=1)[0][:8]
            ann = _prose_annotation(text, s, e, s + m.start(1), s + m.end(1), True, duty)
        if ann is None:
            head = _CLAUSE_HEAD.match(sentence).end()
            m = _BODY_SUBJECT.match(sentence, head)  # only the sentence's subject, not a body named later
            rest = sentence[m.end():] if m else ""
            authority, verb = (_IS_AUTHORITY.match(rest), re.match(_DUTY_VERB, rest)) if m else (None, None)
            if authority or verb:
                strong = bool(authority or _STRONG_DUTY.match(rest)
                              or re.match(r"^(?:按照|依照|根据)[^，。；]{0,12}?(?:职责|分工)[^，。；]{0,6}?负责", rest))
                # the duty is the verb itself ("统一领导"), or the kind of authority ("主管部门")
                duty = authority.group(0)[-4:] if authority else verb.group(0)
                ann = _prose_annotation(text, s, e, s + m.start(1), s + m.end(1), strong, duty)
        if ann is not None:
            found.append(ann)
    return found
