"""The task registry: every assignment of work the documents make, as a record, asked both ways.

Built at index time from the documents a reader made (qa.indexer keeps it with the build as
`BuildData.extras["tasks"]`, so a build, `qa index add` and `qa index remove` change it with the index):

* **body items** closed by a unit marking — "（市乡村振兴局牵头）", "（牵头单位：水务局；责任单位：…）",
  "（X牵头，Y负责落实）", "（X、Y负责）" — one record per marking: a paragraph with several markings
  holds several tasks, each running from the previous marking (qa.units finds them). Text before the
  first marking of a block that has none of its own (an item split by a page break, a marking printed
  on a line of its own) belongs to the task it precedes;
* **unit lines** after an item ("牵头单位：…\\n配合单位：…\\n完成时限：4月底"), and the layout that
  names the units first and the duties after them (a 工作组: "牵头单位：…" then "主要职责：…");
* **annex task tables** with 牵头部门 / 配合部门 / 责任单位 columns. A merged cell is printed once, in one
  row of its group (often the middle one), and the reader carries it down: a row whose 重点任务 cell was
  not printed in it belongs to the neighbouring group whose body item its text resembles, and takes
  that group's units when its own unit cell was not printed either. Tables of indicators (指标) are not
  task lists;
* **responsibility in prose** ("由X负责", "X负责组织…", "X会同Y制定") where a paragraph has no marking.

A task printed twice — a body item and rows of an annex — is one record with every citation: a row
joins the body record of the same 重点任务 (the one whose text and units it shares most when the item
holds several markings).

Roles (口径): `lead` — the text says the unit leads ("X牵头", "X牵头负责", "牵头单位：X", a 牵头部门
column, "X会同Y…", or the first unit listed where the document declares that the first listed leads:
"排在第一位的部门为牵头部门"). `support` — named as 责任单位, 配合单位/协办, "X负责", "负责落实", in a
task it does not lead. A record's roles are the union over its parts; a unit that leads one part of it
leads the record. Only named units count (qa.unit_names drops collectives).
"""
from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .model import Block, Document
from .unit_names import CJK, UnitDirectory, clean_names, localities, spaceless
from .units import (UnitAnnotation, annotations_under_convention, declares_first_listed_lead,
                    find_prose_responsibilities, parse_table_fields, split_unit_list)

FORMAT = 1
ROLES = ("lead", "support", "any")

# Item numbering at the start of a paragraph or in a section label: "1.", "（一）", "一、", "(3)", "第十二条".
_NUMBERING = re.compile(
    r"^\s*(?:[（(]\s*[0-9０-９一二三四五六七八九十百]+\s*[)）]|[0-9０-９]+\s*[.．、]|[一二三四五六七八九十]+\s*[、．.]|"
    r"第[一二三四五六七八九十百零〇\d]+[条章节款项]|[一二三四五六七八九十]+是)\s*"
)
# A label line that is no task text: a person's role in a list ("组 长：王浩 …"), a contact.
_LABEL_LINE = re.compile(rf"^\s*([{CJK}](?:[ \u3000]?[{CJK}]){{0,7}})\s*[:：]")
_DUTY_LABEL = re.compile(r"职责|任务|内容|措施|目标|要求|事项|工作")
_DEADLINE_LABEL = re.compile(r"完成时限|时限|完成时间|截止时间|时间节点|办结时限|完成期限")
# Table columns.
_UNIT_COL = re.compile(r"(牵头|责任|配合|协办|协助|主办|参与|承办)(?:单位|部门)")
_TITLE_COLS = ("重点任务", "主要任务", "工作任务", "任务名称", "任务", "事项", "项目名称", "工作内容")
_SEQ_COL = re.compile(r"序号|编号")
_GROUP_COL = re.compile(r"^(?:名称|类别|领域|板块|分类|方面)$")
_TASK_WORDS = re.compile(r"任务|内容|措施|事项|工作|项目")
# Prose duties that assign work (not "依法…", "应当…", which describe what a body does).
_PROSE_DUTY = re.compile(r"^(?:牵头|负责(?!人)|会同|商同|主管|统一领导|组织实施|统筹)")
_PROSE_BODY_BAD = re.compile(r"[的对由在]|负责人|人员")
# "X会同Y、Z研究制定…": the bodies after 会同 run to the verb of the duty (or the clause's end).
_JOINING = re.compile(
    r"(?:会同|商同|协同)(.{2,40}?)(?=研究|制定|制订|拟定|编制|组织|开展|做好|负责|进行|提出|落实|加强|抓紧|共同|按照|根据|"
    r"依照|依法|协调|指导|推动|建立|完善|实施|认真|尽快|积极|抓好|确定|审核|审查|核定|公布|发布|对|向|将|就|，|,|。|；|;|$)")
# A body's name that is two bodies joined ("A部门和B部门"): split where one name ends and the next begins.
_NAME_JOIN = re.compile(r"(?<=[局委办部门厅院府构会所站队署])(?:和|及|与|、)")
_REQUEST = re.compile(r"^(?:请|责成|要求|由)")


def _norm_title(text: str) -> str:
    return re.sub(rf"[^{CJK}0-9A-Za-z]", "", text or "")


def _bigrams(text: str) -> set[str]:
    t = re.sub(rf"[^{CJK}0-9A-Za-z]", "", text or "")
    return {t[i:i + 2] for i in range(len(t) - 1)}


def _overlap(a: str, b: str) -> float:
    """Share of `a`'s character bigrams found in `b`."""
    ga = _bigrams(a)
    return len(ga & _bigrams(b)) / len(ga) if ga else 0.0


def _strip_numbering(text: str) -> str:
    prev = None
    while prev != text:
        prev, text = text, _NUMBERING.sub("", text, count=1)
    return text.strip()


def short_title(text: str, limit: int = 40) -> str:
    """The item's own name as printed: its first sentence when short ("实施滩区治理工程"), else its
    first clause, without the numbering."""
    body = _strip_numbering(text)
    m = re.match(r"^(.+?)[。；;！!？?\n]", body)
    if m and len(m.group(1).strip()) <= limit:
        return m.group(1).strip()
    m = re.match(r"^(.+?)[，,：:]", body)
    if m and len(m.group(1).strip()) <= limit:
        return m.group(1).strip()
    return body[:limit].strip()


def _clause_head(text: str, limit: int = 25) -> str:
    body = _strip_numbering(text)
    m = re.match(r"^(.+?)[，,。；;（(]", body)
    head = (m.group(1) if m else body).strip()
    return head[:limit]


# --- parts: one place in a document that assigns a task ----------------------------------------------


@dataclass
class Part:
    """One place in a document that assigns work: a body marking, unit lines, an annex row or a sentence;
    a record is one part or several (a body item and the rows that print it again)."""

    kind: str  # "item" (a body marking) | "lines" (unit lines) | "row" (an annex row) | "prose"
    char_start: int
    char_end: int
    section: list[str]
    text: str
    lead: list[str]
    support: list[str]
    page: int | None = None
    deadline: str | None = None
    title: str = ""
    item_title: str = ""  # the item the part belongs to (a row's 重点任务)
    block: int = 0  # order in the document
    content: str = ""  # a row's text cells (what it says, without its labels and units)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("block", "content")}


def _span_in_source(block: Block, doc_text: dict | None, a: int, b: int) -> tuple[int, int]:
    """Source offsets of block.text[a:b]: the repaired text differs from the source only by whitespace,
    so non-space characters are aligned (the block's own span when the source is not at hand)."""
    if doc_text is None or block.kind == "table_row":
        return block.char_start, block.char_end
    start = block.char_start - doc_text["text_start"]
    src = doc_text["text"][start: block.char_end - doc_text["text_start"]]
    idx = [i for i, c in enumerate(src) if not c.isspace()]
    before = sum(1 for c in block.text[:a] if not c.isspace())
    inside = sum(1 for c in block.text[a:b] if not c.isspace())
    if not idx or inside == 0:
        return block.char_start, block.char_end
    first = min(before, len(idx) - 1)
    last = min(before + inside - 1, len(idx) - 1)
    return block.char_start + idx[first], block.char_start + idx[last] + 1


class _DocumentReader:
    """Finds the parts of one document, then merges them into records."""

    def __init__(self, doc: Document, doc_text: dict | None) -> None:
        self.doc = doc
        self.doc_text = doc_text
        self.flat = spaceless("".join(b.text for b in doc.blocks))  # what clean_names checks joins against
        # "（X、Y负责，排在第一位的部门为牵头部门，下同）": the document's convention for its markings
        self.first_leads = declares_first_listed_lead(self.flat)
        self.parts: list[Part] = []
        self.item_titles: dict[tuple, str] = {}
        self.aka: list[tuple[str, str]] = []  # (name, second name) of "X〈Y〉" / "X（Y）", once per marking
        self._marking_aka: set[tuple[str, str]] = set()
        self._head_cache: list[tuple[list[Part], str]] | None = None

    def _add(self, part: Part) -> None:
        self.parts.append(part)
        self.aka.extend(sorted(self._marking_aka))
        self._marking_aka = set()

    # -- names and roles --------------------------------------------------------------------------------

    def _names(self, names: Iterable[str], aliases: dict[str, list[str]]) -> list[str]:
        out: list[str] = []
        for n in names:
            out.append(n)
            for alt in aliases.get(n, []):  # a second name in brackets: the marking names it too
                out.append(alt)
                pair = clean_names([n], self.flat), clean_names([alt], self.flat)
                if pair[0] and pair[1]:
                    self._marking_aka.add((pair[0][0], pair[1][0]))
        return clean_names(out, self.flat)

    def _roles(self, ann: UnitAnnotation) -> tuple[list[str], list[str]]:
        if ann.lead_explicit:
            lead = self._names(ann.lead, ann.aliases)
        elif self.first_leads and ann.lead:
            lead = self._names(ann.lead[:1], ann.aliases)
        else:
            lead = []
        named = self._names([*ann.lead, *ann.responsible, *ann.cooperating], ann.aliases)
        support = [n for n in named if n not in lead]
        return lead, support

    # -- body -----------------------------------------------------------------------------------------

    def _item_title(self, section: tuple, text: str) -> str:
        if section not in self.item_titles:
            label = section[-1] if section else ""
            own = _strip_numbering(label)
            self.item_titles[section] = own if len(re.sub(rf"[^{CJK}]", "", own)) >= 2 else short_title(text)
        return self.item_titles[section]

    def read_body(self) -> None:
        pending: list[tuple[int, int, int]] = []  # (block index, start, end) of text waiting for its marking
        pending_section: tuple | None = None
        awaiting: Part | None = None  # a marking printed before its duties (工作组: 牵头单位… then 主要职责…)
        for bi, block in enumerate(self.doc.blocks):
            if block.kind in ("heading", "front_matter", "table_row"):
                if block.kind == "table_row" or block.kind == "heading" and tuple(block.section) != pending_section:
                    pending, awaiting = [], None
                continue
            section = tuple(block.section)
            if section != pending_section:
                pending, pending_section, awaiting = [], section, None
            text = block.text
            self._item_title(section, text)  # an item is named by its first paragraph
            # under the convention the declaration is blanked in the markings and the first unit leads
            anns = [a for a in annotations_under_convention(text, "paragraph", self.first_leads) if a.style != "table"]
            if not anns:
                prose = self._prose(block, bi, text, section)
                if prose:
                    pending, awaiting = [], None
                    continue
                label = _LABEL_LINE.match(text)
                if label and not _DUTY_LABEL.search(label.group(1)):
                    continue  # a person's role, a contact: no task text
                if awaiting is not None:
                    awaiting.text += "\n" + text.strip()
                    awaiting.char_end = max(awaiting.char_end, block.char_end)
                    continue
                pending.append((bi, 0, len(text)))
                continue
            awaiting = None
            first = True
            for ann in sorted(anns, key=lambda a: a.marker_start):
                lead, support = self._roles(ann)
                span_text = text[ann.start:ann.end].strip()
                marker = text[ann.marker_start:ann.marker_end]
                pieces = []
                start_src = None
                if first and pending:
                    for pbi, a, b in pending:
                        pb = self.doc.blocks[pbi]
                        piece = pb.text[a:b].lstrip(" \t\u3000\n。；;，,").rstrip()
                        if piece:
                            pieces.append(piece)
                            if start_src is None:
                                start_src = _span_in_source(pb, self.doc_text, a, b)[0]
                own_a = ann.start if span_text else ann.marker_start
                s0, s1 = _span_in_source(block, self.doc_text, own_a, ann.marker_end)
                part_text = "".join(pieces) + (text[ann.start:ann.end] if span_text else "") + \
                    ("" if ann.style == "unit_lines" else marker)
                if ann.style == "unit_lines":
                    part_text = (("".join(pieces) + "\n") if pieces else "") + text[own_a:ann.marker_end]
                deadline = None
                for label, (fa, fb) in ann.fields.items():
                    if _DEADLINE_LABEL.search(label):
                        deadline = re.sub(r"^[^：:]*[：:]\s*", "", text[fa:fb]).strip() or None
                item_title = self._item_title(section, text)
                part = Part(
                    kind="lines" if ann.style == "unit_lines" else "item",
                    char_start=start_src if start_src is not None else s0, char_end=s1, section=list(section),
                    text=part_text.strip(), lead=lead, support=support, page=block.page, deadline=deadline,
                    item_title=item_title, block=bi,
                )
                if not span_text and not pieces:
                    # units printed before the duties: the section heading names the task, the next
                    # paragraphs of the section (主要职责：…) say what it is
                    part.title = item_title
                    part.text = part_text.strip()
                    awaiting = part
                self._add(part)
                first = False
            last_end = max(a.marker_end for a in anns)
            tail = text[last_end:].strip(" \t\u3000\n。；;，,")
            pending = [(bi, last_end, len(text))] if tail else []

    def _prose(self, block: Block, bi: int, text: str, section: tuple) -> bool:
        found = False
        for ann in find_prose_responsibilities(text):
            if not ann.lead_explicit or not _PROSE_DUTY.match(ann.duty or "") and not ann.cooperating:
                continue
            name = _REQUEST.sub("", ann.lead[0] if ann.lead else "")
            if _PROSE_BODY_BAD.search(name):
                continue
            leads = clean_names(_NAME_JOIN.split(name), self.flat)
            if not leads:
                continue
            coop: list[str] = []
            if ann.cooperating:
                joined = _JOINING.search(text, ann.marker_end, ann.end)
                listed = re.split(r"[、，,和及与]", joined.group(1)) if joined else ann.cooperating
                coop = [n for n in clean_names(listed, self.flat) if n not in leads]
            # "X会同Y…": X leads the work, Y joins it; "由X负责" / "X负责…": X is responsible (support)
            lead, support = (leads, coop) if ann.cooperating or ann.duty.startswith("牵头") else ([], leads)
            s0, s1 = _span_in_source(block, self.doc_text, ann.start, ann.end)
            self._add(Part(
                kind="prose", char_start=s0, char_end=s1, section=list(section), text=text[ann.start:ann.end].strip(),
                lead=lead, support=support, page=block.page, item_title=self._item_title(section, text), block=bi,
            ))
            found = True
        return found

    # -- annex tables ---------------------------------------------------------------------------------

    def read_tables(self) -> None:
        tables: list[list[int]] = []
        for bi, block in enumerate(self.doc.blocks):
            if block.kind != "table_row":
                continue
            if tables and tables[-1][-1] == bi - 1 and self.doc.blocks[bi - 1].section == block.section:
                tables[-1].append(bi)
            else:
                tables.append([bi])
        for rows in tables:
            self._read_table(rows)

    def _raw(self, block: Block) -> str:
        if self.doc_text is None:
            return ""
        ts = self.doc_text["text_start"]
        return spaceless(self.doc_text["text"][block.char_start - ts: block.char_end - ts])

    def _read_table(self, rows: list[int]) -> None:
        parsed = []
        for bi in rows:
            block = self.doc.blocks[bi]
            cells = {label: block.text[a:b].strip() for label, a, b in parse_table_fields(block.text)}
            parsed.append((bi, block, cells))
        labels = list(dict.fromkeys(label for _, _, cells in parsed for label in cells))
        unit_cols = [label for label in labels if _UNIT_COL.search(label)]
        if not unit_cols:
            return
        if any("指标" in label for label in labels) and not any(_TASK_WORDS.search(label) for label in labels):
            return  # a table of indicators, not of tasks
        title_col = next((c for t in _TITLE_COLS for c in labels if c == t), None) or \
            next((c for c in labels if _TASK_WORDS.search(c) and c not in unit_cols), None)
        deadline_col = next((c for c in labels if _DEADLINE_LABEL.search(c)), None)
        content_cols = [c for c in labels if c not in unit_cols and c != title_col and c != deadline_col
                        and not _SEQ_COL.search(c) and not _GROUP_COL.match(c)]
        body_by_title: dict[str, str] = defaultdict(str)
        for p in self.parts:
            body_by_title[_norm_title(p.item_title)] += p.text
        # which cells the row printed itself (a merged cell is carried down by the reader)
        raws = [self._raw(block) for _, block, _ in parsed]
        printed = [{label: bool(raw) and spaceless(v) in raw for label, v in cells.items()} if raw else
                   {label: True for label in cells} for raw, (_, _, cells) in zip(raws, parsed)]
        titles = [cells.get(title_col, "") if title_col else "" for _, _, cells in parsed]
        if title_col:
            self._regroup(parsed, titles, printed, title_col, body_by_title, content_cols)
        units_of_group: dict[str, dict[str, str]] = {}
        for (bi, block, cells), pr, title in zip(parsed, printed, titles):
            for col in unit_cols:
                if cells.get(col) and pr.get(col):
                    units_of_group.setdefault(title, {}).setdefault(col, cells[col])
        for (bi, block, cells), pr, title in zip(parsed, printed, titles):
            lead: list[str] = []
            support: list[str] = []
            for col in unit_cols:
                value = cells.get(col, "")
                if (not value or not pr.get(col, True)) and title in units_of_group:
                    value = units_of_group[title].get(col, value)
                if not value:
                    continue
                names, aliases = split_unit_list(value)
                cleaned = self._names(names, aliases)
                if _UNIT_COL.search(col).group(1) in ("牵头", "主办"):
                    lead += [n for n in cleaned if n not in lead]
                else:
                    support += [n for n in cleaned if n not in support]
            if self.first_leads and not lead and support and not any(_UNIT_COL.search(c).group(1) in ("牵头", "主办")
                                                                      for c in unit_cols):
                lead = support[:1]  # the document declares that the first unit listed leads
            support = [n for n in support if n not in lead]
            content = "；".join(cells[c] for c in content_cols if cells.get(c) and cells[c] not in "/-—")
            deadline = cells.get(deadline_col) if deadline_col else None
            self._add(Part(
                kind="row", char_start=block.char_start, char_end=block.char_end, section=list(block.section),
                text=block.text, lead=lead, support=support, page=block.page, deadline=deadline or None,
                title=title or short_title(content), item_title=title or short_title(content), block=bi,
                content=content,
            ))

    def _regroup(self, parsed: list, titles: list[str], printed: list[dict], title_col: str,
                 body_by_title: dict[str, str], content_cols: list[str]) -> None:
        """A row whose 重点任务 cell was not printed in it: the merged cell is printed in another row of
        its group, above or below; it goes with the neighbour whose body item its text resembles."""
        printed_at = [i for i, pr in enumerate(printed) if pr.get(title_col) and titles[i]]
        for i, pr in enumerate(printed):
            if pr.get(title_col, True) or not titles[i]:
                continue
            above = max((j for j in printed_at if j < i), default=None)
            below = min((j for j in printed_at if j > i), default=None)
            if below is None or above is None:
                continue
            content = " ".join(parsed[i][2].get(c, "") for c in content_cols)
            up, down = titles[above], titles[below]
            s_up = _overlap(content, body_by_title.get(_norm_title(up), "") or up)
            s_down = _overlap(content, body_by_title.get(_norm_title(down), "") or down)
            if s_down > s_up:
                titles[i] = down
                # the carried units came from the group above: this row's are the group's below
                for col in list(printed[i]):
                    if not printed[i][col]:
                        parsed[i][2].pop(col, None)
                parsed[i][2][title_col] = down

    # -- records --------------------------------------------------------------------------------------

    def records(self) -> list[dict]:
        self.read_body()
        body = [p for p in self.parts if p.kind != "row"]
        rows = [p for p in self.parts if p.kind == "row"]
        by_item: dict[tuple, list[Part]] = defaultdict(list)
        for p in body:
            by_item[tuple(p.section)].append(p)
        for group in by_item.values():
            for k, p in enumerate(group):
                if p.title:
                    continue
                p.title = p.item_title if k == 0 or len(group) == 1 else _clause_head(p.text)
        self.read_tables()
        # consecutive rows of one 重点任务 under one unit cell (a merged cell: printed once, carried down)
        # are one assignment: they stay together
        rowsets: list[list[Part]] = []
        for row in (p for p in self.parts if p.kind == "row"):
            last = rowsets[-1][-1] if rowsets else None
            if last is not None and last.block == row.block - 1 and row.item_title and \
                    _norm_title(last.item_title) == _norm_title(row.item_title) and \
                    (last.lead, last.support) == (row.lead, row.support):
                rowsets[-1].append(row)
            else:
                rowsets.append([row])
        groups: list[list[Part]] = [[p] for p in body]
        directory = UnitDirectory([n for p in self.parts for n in (*p.lead, *p.support)])
        for rowset in rowsets:
            target = self._match(rowset, groups, directory)
            if target is not None:
                target.extend(rowset)
            else:
                groups.append(rowset)
        return [self._record(g) for g in groups]

    def _match(self, rows: list[Part], groups: list[list[Part]], directory: UnitDirectory) -> list[Part] | None:
        """The body record these annex rows print again, if any."""
        row = rows[0]
        title = _norm_title(row.item_title)
        if not title:
            return None
        exact = [g for g, t in self._heads(groups) if t == title]
        fuzzy = [] if exact else [g for g, t in self._heads(groups) if len(t) >= 4 and _similar(t, title) >= 0.6]
        if len(exact) == 1:
            return exact[0]
        candidates = exact or fuzzy  # a title printed a little differently must share the text too
        if not candidates:
            return None
        content = "".join(r.content for r in rows)
        row_units = {directory.uid_of(n) for r in rows for n in (*r.lead, *r.support)}

        def score(g: list[Part]) -> float:
            head = g[0]
            units = {directory.uid_of(n) for n in (*head.lead, *head.support)}
            return _overlap(content, head.text) + (0.3 if units & row_units else 0.0)

        best = max(candidates, key=score)
        if score(best) < 0.15:
            return None
        return best

    def _heads(self, groups: list[list[Part]]) -> list[tuple[list[Part], str]]:
        """The body records (rows never start one that a row can join) with their items' titles."""
        if self._head_cache is None:
            self._head_cache = [(g, _norm_title(g[0].item_title)) for g in groups if g[0].kind != "row"]
        return self._head_cache

    def _record(self, parts: list[Part]) -> dict:
        head = parts[0]
        lead: list[str] = []
        support: list[str] = []
        for p in parts:
            lead += [n for n in p.lead if n not in lead]
        for p in parts:
            support += [n for n in p.support if n not in support and n not in lead]
        deadline = next((p.deadline for p in parts if p.deadline), None)
        text = head.text if head.kind != "row" else "\n".join(p.text for p in parts)
        digest = hashlib.sha1(f"{self.doc.doc_id}|{head.char_start}|{head.kind}".encode()).hexdigest()[:12]
        return {
            "task_id": f"t-{digest}", "doc_id": self.doc.doc_id, "title": head.title or head.item_title,
            "text": text, "lead": lead, "support": support, "deadline": deadline,
            "section": " > ".join(head.section) if head.section else None,
            "parts": [p.as_dict() for p in sorted(parts, key=lambda p: p.block)],
        }


@functools.lru_cache(maxsize=4096)
def _similar(a: str, b: str) -> float:
    matcher = difflib.SequenceMatcher(None, a, b)
    return matcher.ratio() if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6 else 0.0


def document_tasks(doc: Document, doc_text: dict | None = None) -> tuple[list[dict], list[tuple[str, str]]]:
    """The task records of one document (JSON-able dicts) and its (name, second name) pairs. `doc_text`
    ({"text_start", "text"}: its stretch of the source file) lets a citation point at the exact clause
    and a table row's printed cells be told from the ones the reader carried down from a merged cell."""
    if not doc.blocks:
        return [], []
    reader = _DocumentReader(doc, doc_text)
    return reader.records(), reader.aka


# --- the registry: records, the unit directory, queries ---------------------------------------------


def registry_payload(entries: dict[str, dict]) -> dict:
    """What the index keeps (`extras["tasks"]`): per document its source, issuer and records."""
    return {"format": FORMAT, "docs": entries}


def document_entry(doc: Document, doc_text: dict | None) -> dict:
    """One document's part of the payload: its records and what the directory needs to know of it."""
    records, aka = document_tasks(doc, doc_text)
    return {"source": doc.source, "issuer": doc.issuer, "records": records, "aka": [list(p) for p in aka]}


@dataclass
class TaskHit:
    record: dict
    role: str | None  # the asked unit's role in it: "lead" | "support"; None when no unit was asked


@dataclass
class TaskQuery:
    unit: dict | None
    role: str
    total: int
    hits: list[TaskHit]


class UnknownUnit(LookupError):
    def __init__(self, unit: str, suggestions: list[str]) -> None:
        super().__init__(unit)
        self.unit = unit
        self.suggestions = suggestions


@dataclass
class TaskRegistry:
    """All records of the serving index, their units resolved through one directory."""

    records: list[dict]
    directory: UnitDirectory
    lead_of: dict[int, list[int]] = field(default_factory=dict)  # uid → record indexes it leads
    support_of: dict[int, list[int]] = field(default_factory=dict)
    record_units: list[tuple[list[int], list[int]]] = field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: dict | None, doc_ids: Iterable[str] | None = None) -> "TaskRegistry":
        """The registry of a build; `doc_ids` (the documents the index serves) filters out records of a
        document that is no longer served."""
        docs = (payload or {}).get("docs", {}) if (payload or {}).get("format") == FORMAT else {}
        keep = set(doc_ids) if doc_ids is not None else None
        records: list[dict] = []
        issuers = []
        aka: list[tuple[str, str]] = []
        for doc_id, entry in docs.items():
            if keep is not None and doc_id not in keep:
                continue
            records.extend(entry.get("records", []))
            issuers.append(entry.get("issuer"))
            aka.extend((a, b) for a, b in entry.get("aka", []))
        names = [n for r in records for n in (*r["lead"], *r["support"])]
        reg = cls(records, UnitDirectory(names, localities(issuers), aka))
        reg._index()
        return reg

    def _index(self) -> None:
        lead_of: dict[int, list[int]] = defaultdict(list)
        support_of: dict[int, list[int]] = defaultdict(list)
        self.record_units = []
        for i, r in enumerate(self.records):
            leads = list(dict.fromkeys(u for u in (self.directory.uid_of(n) for n in r["lead"]) if u is not None))
            sups = list(dict.fromkeys(u for u in (self.directory.uid_of(n) for n in r["support"])
                                      if u is not None and u not in leads))
            for u in leads:
                lead_of[u].append(i)
            for u in sups:
                support_of[u].append(i)
            self.record_units.append((leads, sups))
        self.lead_of, self.support_of = dict(lead_of), dict(support_of)
        self._haystack = [spaceless(" ".join([r["title"], r["text"], *r["lead"], *r["support"]])).lower()
                          for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def resolve(self, unit: str) -> dict | None:
        """{"uid", "name", "aliases"} of the unit a user names, or None."""
        u = self.directory.resolve(unit)
        return None if u is None else {"uid": u.uid, "name": u.name, "aliases": u.aliases}

    def query(self, unit: str | None = None, role: str = "any", doc: str | None = None, q: str | None = None,
              limit: int = 100, offset: int = 0) -> TaskQuery:
        """Records of `unit` in `role` (lead / support / any), of document `doc`, matching every
        whitespace-separated word of `q`; in document order. Raises UnknownUnit for an unknown unit."""
        info = None
        if unit is not None and unit.strip():
            info = self.resolve(unit)
            if info is None:
                raise UnknownUnit(unit, self.directory.suggestions(unit))
            uid = info["uid"]
            roles: dict[int, str] = {}
            if role in ("lead", "any"):
                roles.update({i: "lead" for i in self.lead_of.get(uid, [])})
            if role in ("support", "any"):
                for i in self.support_of.get(uid, []):
                    roles.setdefault(i, "support")
            order = sorted(roles)
        else:
            roles = {}
            order = [i for i, (leads, sups) in enumerate(self.record_units)
                     if role == "any" or (leads if role == "lead" else sups)]
        if doc:
            order = [i for i in order if self.records[i]["doc_id"] == doc]
        if q and q.strip():
            words = [w.lower() for w in q.split()]
            order = [i for i in order if all(w in self._haystack[i] for w in words)]
        page = order[offset: offset + limit]
        hits = [TaskHit(self.records[i], roles.get(i)) for i in page]
        return TaskQuery(unit=info, role=role, total=len(order), hits=hits)

    def distinct(self, names: Iterable[str], exclude: Iterable[str] = ()) -> list[str]:
        """`names` with one spelling per unit (the first), without the units of `exclude`."""
        seen = {self.directory.uid_of(n) for n in exclude}
        seen.discard(None)
        out = []
        for n in names:
            uid = self.directory.uid_of(n)
            if uid is None or uid not in seen:
                out.append(n)
                if uid is not None:
                    seen.add(uid)
        return out

    def units(self) -> list[dict]:
        """Every unit with its spellings and how many tasks it leads and supports, most tasks first."""
        out = []
        for u in self.directory.units:
            lead, support = len(self.lead_of.get(u.uid, [])), len(self.support_of.get(u.uid, []))
            if lead or support:
                out.append({"name": u.name, "aliases": u.aliases, "lead": lead, "support": support})
        out.sort(key=lambda d: (-(d["lead"] + d["support"]), d["name"]))
        return out


CSV_COLUMNS = ("task_id", "role", "title", "lead_units", "supporting_units", "deadline", "doc_number", "doc_title",
               "section", "text")


def tasks_csv(rows: Iterable[dict]) -> str:
    """The rows (dicts with CSV_COLUMNS; unit lists joined with 、) as CSV text with a header, BOM first
    so that spreadsheet programs read it as UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([("、".join(v) if isinstance(v, list) else ("" if v is None else v))
                         for v in (row.get(c) for c in CSV_COLUMNS)])
    return "\ufeff" + buf.getvalue()
