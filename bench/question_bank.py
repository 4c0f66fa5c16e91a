#!/usr/bin/env python3
"""Generate the question bank that the answer layer's abstention decision is fitted and measured on.

Questions are derived from the corpora's own structure, read through the project's readers and chunker
(`qa.readers.read_file`, `qa.chunking.chunk_documents`, `qa.units`), so every evidence string is verbatim
chunk text:

* gazette (`corpus/qingtongxia-gazette-2021-02.txt`): task items and table rows with unit markings (who
  leads / who cooperates / 责任单位), figures (targets, counts, money), deadlines (完成时限), document
  headers (文号 / issuer / date / title), member lists of 指挥部 / 工作组 (总指挥, 组长, 责任领导 …);
* laws (`../shared/corpora/laws-sample/`): responsibility stated in articles (由X负责 / X主管 / X是…主管部门),
  fines and time limits in articles, 不得 / 应当 rules, header facts (通过 / 修正 / 施行 dates, the meeting);
* govcn (`../shared/corpora/govcn-html-sample/`, State Council pages): "（X、Y负责）" markings, figures,
  headers (文号 / 成文日期 / 发文机关).

Unanswerable questions are made by perturbing answerable ones (another year, a person where only units
are named, a figure the text does not give, a topic the corpus lacks, an event date where only the issue
date exists, a role nobody fills, a unit for a task that names none); each carries `perturbation`,
`from_id` and a machine-checkable `check` (strings that must be absent, pairs that must never share a
chunk) that `bench/check_question_bank.py` verifies.

The split is by document: a hash of the document key sends all questions of a document to `fit` or
`heldout` (about 60/40), so held-out questions come from documents the fit never saw.

    python bench/question_bank.py --out bench/data/question_bank.jsonl [--shared ../shared]

The output is deterministic (fixed seed, per-item random streams keyed by content).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the repository's qa/ wins
    sys.path.insert(0, str(ROOT))

from qa.chunking import chunk_documents, indexed_body  # noqa: E402
from qa.model import Chunk, Document  # noqa: E402
from qa.readers import read_file, source_text  # noqa: E402
from qa.units import find_prose_responsibilities, find_unit_annotations, parse_table_fields  # noqa: E402

SEED = 20210211
DEFAULT_SHARED = ROOT.parent / "shared"
DEFAULT_OUT = ROOT / "bench" / "data" / "question_bank.jsonl"
GAZETTE = ROOT / "corpus" / "qingtongxia-gazette-2021-02.txt"
FIT_SHARE = 60  # percent of documents whose questions go to the fit split

_WS = re.compile(r"\s+")
CJK = "\u4e00-\u9fff"


def norm(s: str) -> str:
    """All whitespace removed (how the scorer matches evidence and answers)."""
    return _WS.sub("", s)


def rng_for(*key: object) -> random.Random:
    """A random stream of its own for one item, so that adding an item elsewhere changes nothing here."""
    digest = hashlib.sha256(f"{SEED}|{'|'.join(map(str, key))}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def split_of(corpus: str, doc_key: str) -> str:
    """fit or heldout, by a hash of the document (every question of one document lands in one split)."""
    h = int(hashlib.sha256(f"split|{corpus}|{doc_key}".encode()).hexdigest()[:8], 16)
    return "fit" if h % 100 < FIT_SHARE else "heldout"


# --------------------------------------------------------------------------------------- corpora


@dataclass
class Corpus:
    """The documents and chunks of one corpus, with whitespace-free texts for counting and checks."""

    name: str
    docs: list[Document]
    chunks: list[Chunk]
    norm_chunks: list[str] = field(default_factory=list)
    blob: str = ""

    def __post_init__(self) -> None:
        self.norm_chunks = [norm(c.text) for c in self.chunks]
        self.blob = "\x00".join(self.norm_chunks)
        self.doc_by_id = {d.doc_id: d for d in self.docs}
        self.chunks_of_doc: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(self.chunks):
            self.chunks_of_doc[c.doc_id].append(i)

    def count(self, s: str) -> int:
        return self.blob.count(norm(s))

    def chunk_ids_with(self, s: str, doc_id: str | None = None) -> list[int]:
        n = norm(s)
        ids = self.chunks_of_doc[doc_id] if doc_id else range(len(self.chunks))
        return [i for i in ids if n in self.norm_chunks[i]]

    def doc_text(self, doc_id: str) -> str:
        return "\x00".join(self.norm_chunks[i] for i in self.chunks_of_doc[doc_id])


def _read(paths: list[Path], base: Path, name: str) -> Corpus:
    docs: list[Document] = []
    sources: dict[str, str] = {}
    for p in paths:
        rel = str(p.relative_to(base))
        docs.extend(read_file(p, rel))
        text = source_text(p)
        if text is not None:
            sources[rel] = text
    return Corpus(name, docs, chunk_documents(docs, sources))


def load_corpora(shared: Path) -> dict[str, Corpus]:
    """The three corpora (govcn only when the project can read HTML and the folder is there)."""
    corpora = {"gazette": _read([GAZETTE], GAZETTE.parent, "gazette")}
    laws = shared / "corpora" / "laws-sample"
    if laws.is_dir():
        corpora["laws"] = _read(sorted(laws.rglob("*.md")), laws, "laws")
    govcn = shared / "corpora" / "govcn-html-sample"
    if govcn.is_dir() and _html_supported():
        files = sorted(govcn.glob("*.html"), key=lambda p: (len(p.stem), p.stem))
        corpora["govcn"] = _read(files, govcn, "govcn")
    return corpora


def _html_supported() -> bool:
    from qa import readers

    return ".html" in getattr(readers, "SUPPORTED_SUFFIXES", ())


# --------------------------------------------------------------------------------------- helpers

_ITEM_LABEL = re.compile(
    r"^\s*(?:[（(]\s*[一二三四五六七八九十\d]+\s*[)）]|[一二三四五六七八九十]+\s*[、．.]|\d+\s*[.．、](?!\d)|[①-⑳]|"
    r"[一二三四五六七八九十]是)\s*"
)
_LEAD_VERBS = ("实施", "加强", "推进", "做好", "健全", "完善", "加快", "持续", "深入", "全面", "积极", "大力",
               "开展", "强化", "推动", "建立", "落实", "抓好", "提升", "深化", "坚持", "着力", "切实", "进一步")
_ACTION_START = re.compile(
    r"^(?:实施|加强|推进|做好|健全|完善|加快|持续|深入|全面|积极|大力|开展|强化|推动|建立|落实|抓好|提升|深化|坚持|着力|"
    r"切实|进一步|建设|打造|培育|发展|创建|组织|规范|优化|保障|促进|探索|支持|鼓励|引导|严格|统筹|巩固|扩大|提高|"
    r"改善|整治|治理|保护|开发|构建|启动|召开|制定|出台|编制|完成|办好|抓|推行|深化|创新|加大|扎实|有序|分类|聚焦)"
)
_BAD_TOPIC = re.compile(r"[（）()《》〈〉“”：:；;]|^[\d.、]|等$|^(?:其中|包括|同时|并|和|及|与|对|在|按照|根据|通过|确保|力争)")
_MONEY = re.compile(r"\d\s*(?:万元|亿元|元)|[一二三四五六七八九十百千万]+元")
_PERSON_ROLE = re.compile(r"责任领导|包抓领导|组\s*长|总指挥|负责人[:：]|同志|主任[:：]|帮扶责任人")


def clauses(text: str, lo: int = 5, hi: int = 26) -> list[str]:
    out = []
    for piece in re.split(r"[，。；：！？\n,;]", text):
        piece = piece.strip(" \t\u3000、")
        if lo <= len(piece) <= hi:
            out.append(piece)
    return out


def strip_label(line: str) -> tuple[str, bool]:
    m = _ITEM_LABEL.match(line)
    return (line[m.end():], True) if m else (line.strip(), False)


def shorten(topic: str) -> str | None:
    """The topic without a leading verb ("实施河岸堤防工程" -> "河岸堤防工程"), or None."""
    for v in _LEAD_VERBS:
        if topic.startswith(v) and len(topic) - len(v) >= 4:
            return topic[len(v):]
    return None


def pick_evidence(corpus: Corpus, chunk_text: str, preferred: list[str], pool: str, k: int = 2) -> list[str]:
    """1-3 verbatim substrings (8-40 chars) of the chunk: preferred strings first, then the clauses of
    `pool` that are unique in the corpus, then any clause of it."""
    out: list[str] = []
    for s in preferred:
        s = s.strip()
        if 8 <= len(s) <= 40 and s in chunk_text and s not in out:
            out.append(s)
        if len(out) >= k:
            return out
    cands = [c for c in clauses(pool, 8, 40) if c in chunk_text]
    cands.sort(key=lambda c: (corpus.count(c) != 1, -min(len(c), 24)))
    for c in cands:
        if c not in out and not any(c in o or o in c for o in out):
            out.append(c)
        if len(out) >= k:
            break
    if not out:  # a window of the chunk itself
        body = chunk_text.strip()
        for start in range(0, max(1, len(body) - 16), 12):
            w = body[start:start + 20].strip()
            if len(w) >= 8 and "\n" not in w:
                out.append(w)
                break
    return out[:3]


def unit_spellings(names: list[str], aliases: dict[str, list[str]] | None = None, local: bool = True) -> list[str]:
    """Acceptable spellings: as printed, with and without the 市 prefix (local units), aliases."""
    out: list[str] = []

    def add(s: str) -> None:
        s = s.strip()
        if len(s) >= 2 and s not in out:
            out.append(s)

    for n in names:
        add(n)
        if local:
            if n.startswith("市") and len(n) > 3 and not n.startswith("市委") and not n.startswith("市场"):
                add(n[1:])
            elif not n.startswith(("市", "各", "吴忠", "青铜峡", "自治区")) and re.search(r"(局|委|办|部)$", n):
                add("市" + n)
        for a in (aliases or {}).get(n, []):
            add(a)
    return out


_LEGAL_PREFIX = re.compile(
    r"^(?:国务院|县级以上地方各级人民政府|县级以上地方人民政府|县级以上人民政府|设区的市、县（市、区）人民政府|"
    r"省、自治区、直辖市人民政府|省人民政府|市、区人民政府|市、区、县人民政府|市和区|市、区|市区|省|市|区|县|本市|各级)"
)


def legal_spellings(name: str) -> list[str]:
    out = [name]
    m = _LEGAL_PREFIX.match(name)
    rest = name[m.end():] if m else ""
    # "县级以上人民政府卫生主管部门" -> "卫生主管部门"; never a bare "人民政府" or a half list "、县（区）…"
    if len(rest) >= 4 and rest[0] not in "、，（(和" and re.search(r"部门|机关|机构|局|委员会|办公室|中心", rest):
        out.append(rest)
    return out


def cn_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"


def date_answers(iso: str) -> list[str]:
    """The date as a reader would write it, as ISO, and zero-padded as State Council pages print it
    ("1996年02月05日")."""
    y, m, d = iso.split("-")
    return list(dict.fromkeys([cn_date(iso), iso, f"{int(y)}年{int(m):02d}月{int(d):02d}日"]))


def short_title(title: str) -> str:
    return re.sub(r"[（(][^（）()]*[)）]$", "", title).strip()


# --------------------------------------------------------------------------------------- records


@dataclass
class Q:
    corpus: str
    qtype: str  # FORMAT.md type
    question: str
    evidence: list[str]
    answer: list[str]
    doc: Document
    answer_type: str
    source: str
    template: str
    extra: dict = field(default_factory=dict)  # material a perturbation needs (not written out)
    fields: dict = field(default_factory=dict)  # extra fields written out (role, …)

    @property
    def doc_key(self) -> str:
        return self.doc.doc_number or self.doc.title


@dataclass
class U:
    """An unanswerable question made from an answerable one."""

    base: Q
    question: str
    perturbation: str
    template: str
    check: dict


class Bank:
    """Collects questions, drops duplicates (same question text), renders records."""

    def __init__(self) -> None:
        self.answerable: list[Q] = []
        self.unanswerable: list[U] = []
        self._seen: set[str] = set()

    def add(self, q: Q) -> bool:
        key = norm(q.question)
        if key in self._seen or not q.evidence or not q.answer:
            return False
        self._seen.add(key)
        self.answerable.append(q)
        return True

    def add_u(self, u: U) -> bool:
        key = norm(u.question)
        if key in self._seen:
            return False
        self._seen.add(key)
        self.unanswerable.append(u)
        return True


# --------------------------------------------------------------------------------------- templates

LEAD_TEMPLATES = [
    ("lead-1", "{t}由哪个部门牵头？"),
    ("lead-2", "{t}谁牵头？"),
    ("lead-3", "{t}的牵头单位是哪个？"),
    ("lead-4", "哪个单位负责{t}？"),
    ("lead-5", "{t}这项工作归哪个部门管？"),
    ("lead-6", "负责{t}的是哪个部门？"),
    ("lead-7", "请问{t}是哪个单位牵头负责的？"),
    ("lead-8", "{t}，牵头部门是谁？"),
]
RESP_TEMPLATES = [  # only 责任单位 named (or "X负责"): ask who is responsible
    ("resp-1", "{t}的责任单位是哪个？"),
    ("resp-2", "{t}由哪个单位负责？"),
    ("resp-3", "谁负责{t}？"),
    ("resp-4", "{t}是哪个部门的责任？"),
]
SUPPORT_TEMPLATES = [
    ("support-1", "{t}由哪些部门配合？"),
    ("support-2", "{t}的配合单位有哪些？"),
    ("support-3", "除了牵头单位，还有哪些单位参与{t}？"),
]
PERSON_U_TEMPLATES = [
    ("u-person-1", "{t}的具体负责人是谁？"),
    ("u-person-2", "{t}由哪位领导分管？"),
    ("u-person-3", "{t}的责任人叫什么名字？"),
]
MONEY_U_TEMPLATES = [
    ("u-figure-1", "{t}总共投资多少钱？"),
    ("u-figure-2", "{t}安排了多少资金？"),
    ("u-figure-3", "{t}的预算是多少万元？"),
]
# Topics that none of the corpora mention (checked at generation and by the checker): "topic moved".
ABSENT_TOPICS = [
    ("邮轮", "邮轮码头建设"), ("无人机", "无人机物流配送"), ("冰雪", "冰雪旅游推广"), ("海洋牧场", "海洋牧场建设"),
    ("地铁", "地铁线网规划"), ("核电", "核电站选址"), ("跨境电商", "跨境电商综合试验区建设"),
    ("滑雪", "滑雪场建设"), ("潮汐", "潮汐能发电"), ("深海", "深海养殖"), ("赛马", "赛马产业发展"),
    ("航天育种", "航天育种基地建设"), ("海岛", "海岛保护开发"), ("电竞", "电竞场馆建设"),
    ("咖啡", "咖啡产业发展"), ("橡胶", "橡胶林管护"), ("磁悬浮", "磁悬浮线路建设"), ("冰川", "冰川保护"),
    ("珊瑚", "珊瑚礁修复"), ("元宇宙", "元宇宙产业园建设"), ("马拉松", "马拉松赛事举办"), ("卫星互联网", "卫星互联网地面站建设"),
    ("氢能", "氢能加注站布局"), ("低空", "低空飞行服务站建设"), ("人工岛", "人工岛填海工程"), ("火山", "火山地质公园建设"),
]


# --------------------------------------------------------------------------------------- gazette


_ann_cache: dict[int, list] = {}


def chunk_annotations(corpus: Corpus, ci: int) -> list:
    key = id(corpus) * 1000003 + ci
    if key not in _ann_cache:
        ch = corpus.chunks[ci]
        body = indexed_body(ch)
        _ann_cache[key] = find_unit_annotations(body, "table_row" if ch.kind == "table_row" else None)
    return _ann_cache[key]


def _lead_key(units: list[str]) -> frozenset[str]:
    return frozenset(u[1:] if u.startswith("市") and len(u) > 3 else u for u in units)


def topic_conflicts(corpus: Corpus, topic: str, leads: list[str]) -> bool:
    """Whether the topic also lies in a task that another set of units leads (the question would be ambiguous)."""
    want = _lead_key(leads)
    pat = re.compile(r"\s*".join(map(re.escape, norm(topic))))
    for ci in corpus.chunk_ids_with(topic):
        body = indexed_body(corpus.chunks[ci])
        anns = chunk_annotations(corpus, ci)
        for m in pat.finditer(body):
            for a in anns:
                covers = a.start <= m.start() < a.end or (a.style == "table")
                if covers and a.lead and _lead_key(a.lead) != want:
                    return True
    return False


def _table_task(body: str) -> tuple[list[str], str]:
    """Topic candidates of a table row (short task title cells first) and the row's content text."""
    cells = parse_table_fields(body)
    title_cells, content = [], ""
    for label, a, b in cells:
        v = body[a:b].strip()
        if not v or re.search(r"单位|部门|时限|时间|序号|责任人|领导|备注|指标值|名次", label):
            continue
        if re.search(r"重点任务|工作任务|任务名称|项目名称|事项|目标任务|重点工作|工作事项", label):
            title_cells.append(v)
        elif re.search(r"主要内容|具体内容|工作内容|具体措施|内容|措施|任务", label):
            content = v
    cands = [v for v in title_cells if 4 <= len(v) <= 26]
    cands += [c for c in clauses(content, 6, 24)[:4] if _ACTION_START.match(c)]
    return cands, content or " ".join(title_cells)


def _item_task(span: str) -> tuple[list[str], str]:
    """Topic candidates of a task span in running text (item title first, then its clauses)."""
    lines = [ln for ln in span.split("\n") if ln.strip()]
    while len(lines) > 1 and _ITEM_LABEL.match(lines[0]) and len(lines[0]) <= 40:
        lines.pop(0)  # section headings above the item
    text = "".join(lines)
    text, labelled = strip_label(text)
    cands: list[str] = []
    if labelled:
        first = re.split(r"[。]", text, maxsplit=1)[0]
        if 4 <= len(first) <= 26 and "，" not in first:
            cands.append(first)
    cands += [c for c in clauses(text, 6, 24)[:4] if _ACTION_START.match(c)]
    return cands, text


def gazette_like_tasks(corpus: Corpus, bank: Bank, limits: dict[str, int]) -> list[Q]:
    """Lead / support / 责任 questions from unit markings; returns the lead questions made."""
    made: list[Q] = []
    per_kind = Counter()
    for ci, ch in enumerate(corpus.chunks):
        doc = corpus.doc_by_id[ch.doc_id]
        body = indexed_body(ch)
        for ai, ann in enumerate(chunk_annotations(corpus, ci)):
            if not ann.lead or ann.style == "fragment":
                continue
            if any(len(u) > 20 for u in ann.lead):
                continue  # a cell the parser merged with the next one: not a unit name
            if ann.style == "table":
                cands, content = _table_task(body)
                source = "table_row"
            else:
                cands, content = _item_task(body[ann.start:ann.end])
                source = "task_item"
            topic = None
            for c in cands:
                if _BAD_TOPIC.search(c) or len(c) < 4 or re.search(r"\d", c):
                    continue
                if corpus.count(c) > 6 or topic_conflicts(corpus, c, ann.lead):
                    continue
                topic = c
                break
            if topic is None:
                continue
            rng = rng_for(corpus.name, "task", ci, ai)
            shown = topic
            short = shorten(topic)
            if short and rng.random() < 0.3 and not topic_conflicts(corpus, short, ann.lead) and corpus.count(short) <= 6:
                shown = short
            explicit = ann.lead_explicit and ann.style != "table" or "lead" in ann.role_texts
            kind = "lead" if explicit else "resp"
            tpl_id, tpl = rng.choice(LEAD_TEMPLATES if explicit else RESP_TEMPLATES)
            ev = pick_evidence(corpus, ch.text, [topic], content)
            q = Q(corpus.name, "lead_unit", tpl.format(t=shown), ev,
                  unit_spellings(ann.lead, ann.aliases, local=corpus.name == "gazette"), doc, "lead_unit", source,
                  tpl_id, extra={"topic": shown, "chunk": ci, "content": content, "leads": ann.lead},
                  fields={"role": "lead"})
            if per_kind[kind] < limits.get(kind, 10**6) and bank.add(q):
                per_kind[kind] += 1
                made.append(q)
            sup = [u for u in ann.supporting if len(u) <= 20 and not re.search(r"\d", u)]
            if sup and explicit and rng.random() < 0.35 and per_kind["support"] < limits.get("support", 10**6):
                tpl_id, tpl = rng.choice(SUPPORT_TEMPLATES)
                q2 = Q(corpus.name, "lead_unit", tpl.format(t=shown), ev, unit_spellings(sup[:6], ann.aliases,
                       local=corpus.name == "gazette"), doc, "lead_unit", source, tpl_id,
                       extra={"topic": shown, "chunk": ci}, fields={"role": "support"})
                if bank.add(q2):
                    per_kind["support"] += 1
            fields = getattr(ann, "fields", {}) or {}
            if "完成时限" in fields and per_kind["deadline"] < limits.get("deadline", 10**6):
                a, b = fields["完成时限"]
                value = re.sub(r"^[^：:]*[：:]\s*", "", body[a:b]).strip()
                if value:
                    tid, tpl = rng.choice([("deadline-1", "{t}什么时候完成？"), ("deadline-2", "{t}的完成时限是什么时候？"),
                                           ("deadline-3", "{t}要在什么时间前完成？")])
                    q3 = Q(corpus.name, "detail", tpl.format(t=shown), pick_evidence(corpus, ch.text, [topic], content),
                           [value], doc, "date", "task_item", tid, extra={"topic": shown, "chunk": ci})
                    if bank.add(q3):
                        per_kind["deadline"] += 1
    return made


_FIG_UNITS = r"(?:%|万元|亿元|万亩|亩|公里|千米|个|家|座|张|名|人|所|户|项|处|条|套|台|万人|万吨|吨|天|次|件|岁|年|微克/立方米)"
_FIG_VERB = re.compile(
    rf"^(?P<subj>[{CJK}A-Za-z0-9.“”（）()]{{3,16}}?)(?P<verb>达到|提高到|提升到|控制在|稳定在|保持在|不低于|不少于|下降|增长|降低|提高)"
    rf"(?P<num>\d+(?:\.\d+)?)(?P<unit>{_FIG_UNITS})?(?P<mod>以上|以内|左右|以下)?$"
)
_FIG_OBJ = re.compile(
    rf"^(?P<verb>新增|新建|建设|建成|完成|培育|治理|改造|打造|疏浚|维修养护|选派|认定|盘活|整治提升|改扩建|创建|引进|实施|安排|发放|覆盖)"
    rf"(?P<obj>[{CJK}“”]{{2,12}}?)(?P<num>\d+(?:\.\d+)?)(?P<unit>{_FIG_UNITS})(?P<mod>以上|左右)?$"
)


def _figure_ok(corpus: Corpus, subject: str, num: str) -> bool:
    """The subject is named only where the same figure stands (else the question is ambiguous)."""
    ids = corpus.chunk_ids_with(subject)
    return 0 < len(ids) <= 3 and all(num in corpus.norm_chunks[i] for i in ids)


def figures(corpus: Corpus, bank: Bank, limit: int, context_title: bool) -> list[Q]:
    """Number questions from "X达到N%" / "新增X N张" clauses of any passage."""
    made: list[Q] = []
    for ci, ch in enumerate(corpus.chunks):
        if len(made) >= limit:
            break
        doc = corpus.doc_by_id[ch.doc_id]
        text = indexed_body(ch)
        for sent in re.split(r"[。；\n]", text):
            year = re.search(r"(?:到|至)(20\d\d)年", sent)
            for cl in re.split(r"[，,；：]", sent):
                cl = cl.strip(" \t、——")
                m = _FIG_VERB.match(cl)
                kind = "verb"
                if not m:
                    m = _FIG_OBJ.match(cl)
                    kind = "obj"
                if not m:
                    continue
                num, unit, mod = m.group("num"), m.group("unit") or "", m.group("mod") or ""
                if kind == "verb":
                    subj = re.sub(r"^(?:年内|全年|全市|力争|确保|其中)+", "", m.group("subj"))
                    subj = re.sub(r"(?:稳定|继续|持续|力争|逐步|分别)+$", "", subj)
                    if len(subj) < 3 or _BAD_TOPIC.search(subj) or re.search(r"\d", subj):
                        continue
                    key = subj
                else:
                    subj = m.group("obj")
                    key = m.group("verb") + subj
                    if len(key) < 4 or _BAD_TOPIC.search(subj):
                        continue
                if not _figure_ok(corpus, key, num):
                    continue
                rng = rng_for(corpus.name, "fig", ci, cl)
                when = ""
                y = year.group(1) if year else None
                if y:
                    when = f"到{y}年，"
                elif context_title and (ty := re.search(r"(20\d\d)年", doc.title)):
                    y = ty.group(1)
                    when = rng.choice([f"{y}年", f"{y}年"])
                if kind == "verb":
                    v = m.group("verb")
                    ask = {"控制在": "要控制在多少？", "下降": "要下降多少？", "降低": "要降低多少？", "增长": "要增长多少？",
                           "提高": "要提高多少？"}.get(v, rng.choice(["要达到多少？", "的目标是多少？", "计划达到多少？"]))
                    question = f"{when}{subj}{ask}"
                    tid = f"number-verb-{v}"
                else:
                    v = m.group("verb")
                    if unit in ("%",):
                        continue
                    if unit in ("万元", "亿元"):
                        question, tid = f"{when}{v}{subj}多少钱？", "number-obj-money"
                    else:
                        question, tid = rng.choice([(f"{when}要{v}多少{unit}{subj}？", "number-obj-1"),
                                                    (f"{when}{v}{subj}的目标是多少{unit}？", "number-obj-2")])
                answers = [f"{num}{unit}{mod}", f"{num}{unit}", num] if unit else [num]
                answers = list(dict.fromkeys(answers))
                ev = pick_evidence(corpus, ch.text, [cl, key], text)
                q = Q(corpus.name, "table" if ch.kind == "table_row" else "detail", question, ev, answers, doc, "number",
                      "table_row" if ch.kind == "table_row" else "figure", tid,
                      extra={"subject": key, "year": y, "chunk": ci, "when": when, "ask": question[len(when):]})
                if bank.add(q):
                    made.append(q)
    return made


_MEMBER_ROLE = re.compile(
    r"^(?P<role>总\s*指\s*挥|副\s*总\s*指\s*挥|指\s*挥\s*长|副\s*指\s*挥\s*长|组\s*长|副\s*组\s*长|责任领导|办公室主任)\s*[：:]\s*"
    rf"(?P<name>[{CJK}]\s?[{CJK}]{{1,2}}|[{CJK}]{{2,3}})\s+(?P<pos>\S.*)$"
)
_MEMBER_CONT = re.compile(rf"^(?P<name>[{CJK}]\s?[{CJK}]{{1,2}}|[{CJK}]{{2,3}})\s+(?P<pos>[{CJK}、（）]+)$")
_BODY_LINE = re.compile(rf"([{CJK}“”]{{2,30}}?(?:工作组|指挥部|领导小组))\s*$")
ROLE_NAMES = {"总指挥": "总指挥", "副总指挥": "副总指挥", "指挥长": "指挥长", "副指挥长": "副指挥长", "组长": "组长",
              "副组长": "副组长", "责任领导": "责任领导", "办公室主任": "办公室主任"}


@dataclass
class Member:
    body: str
    role: str
    name: str
    pos: str
    chunk: int
    line: str


def member_lists(corpus: Corpus) -> list[Member]:
    """Roles and names of 指挥部 / 工作组 member lists ("总指挥：文学智 市委副书记、政府代市长")."""
    members: list[Member] = []
    for ci, ch in enumerate(corpus.chunks):
        body_name = None
        for s in reversed(ch.section):  # "一、2021 年国家卫生城市复审工作指挥部"
            m = _BODY_LINE.search(strip_label(re.sub(r"20\d\d\s*年", "", s))[0])
            if m:
                body_name = m.group(1)
                break
        role = None
        for line in ch.text.split("\n"):
            line = line.strip()
            if not line:
                continue
            head = strip_label(line)
            mb = _BODY_LINE.fullmatch(re.sub(r"20\d\d\s*年", "", head[0])) if head[1] else None
            if mb:
                body_name, role = mb.group(1), None
                continue
            m = _MEMBER_ROLE.match(line)
            if m and body_name:
                role = ROLE_NAMES[norm(m.group("role"))]
                members.append(Member(body_name, role, m.group("name"), m.group("pos").strip(), ci, line))
                continue
            m = _MEMBER_CONT.match(line)
            if m and role in ("副总指挥", "副组长", "副指挥长") and body_name:
                members.append(Member(body_name, role, m.group("name"), m.group("pos").strip(), ci, line))
                continue
            if re.match(r"^成\s*员\s*[：:]", line):
                role = "成员"
            elif not m:
                role = None if "：" in line or ":" in line else role
    return members


def persons(corpus: Corpus, bank: Bank, place: str) -> list[Q]:
    made: list[Q] = []
    members = member_lists(corpus)
    by_body: dict[str, list[Member]] = defaultdict(list)
    for mem in members:
        by_body[mem.body].append(mem)
    pos_count = Counter(p for mem in members for p in re.split(r"[、，]", mem.pos))
    for body, mems in by_body.items():
        roles = Counter(m.role for m in mems)
        for mem in mems:
            ch = corpus.chunks[mem.chunk]
            doc = corpus.doc_by_id[ch.doc_id]
            rng = rng_for(corpus.name, "person", body, mem.role, mem.name)
            names = list(dict.fromkeys([mem.name, norm(mem.name)]))
            ev = pick_evidence(corpus, ch.text, [mem.line[:40], body], ch.text, k=2)
            if roles[mem.role] == 1:
                tid, tpl = rng.choice([("person-role-1", "{b}的{r}是谁？"), ("person-role-2", "谁担任{b}{r}？"),
                                       ("person-role-3", "{b}{r}是哪位领导？")])
            else:
                tid, tpl = ("person-role-many", "{b}的{r}有哪些人？")
            q = Q(corpus.name, "detail", tpl.format(b=body, r=mem.role), ev, names, doc, "person", "member_list", tid,
                  extra={"body": body, "role": mem.role, "chunk": mem.chunk})
            if bank.add(q):
                made.append(q)
            # position -> name ("市财政局局长是谁？"), when the position is named once in the lists
            for p in re.split(r"[、，]", mem.pos):
                if pos_count[p] == 1 and len(p) >= 4 and re.search(r"(长|书记|主任|政委)$", p) and rng.random() < 0.5:
                    shown = (place + p) if p.startswith("市") else (place + "市" + p if p.startswith("政府") else p)
                    tid2, tpl2 = rng.choice([("person-pos-1", "{p}是谁？"), ("person-pos-2", "{p}叫什么名字？")])
                    q2 = Q(corpus.name, "detail", tpl2.format(p=shown), pick_evidence(corpus, ch.text, [mem.line[:40]], ch.text, 1),
                           names, doc, "person", "member_list", tid2, extra={"body": body, "chunk": mem.chunk})
                    if bank.add(q2):
                        made.append(q2)
    return made


def headers(corpus: Corpus, bank: Bank) -> list[Q]:
    """文号 / issuer / date / title questions from each document's header passage."""
    made: list[Q] = []
    for doc in corpus.docs:
        if not doc.doc_number:
            continue
        ids = [i for i in corpus.chunks_of_doc[doc.doc_id] if norm(doc.doc_number) in corpus.norm_chunks[i]]
        if not ids:
            continue
        ci = ids[0]
        text = corpus.chunks[ci].text
        rng = rng_for(corpus.name, "header", doc.doc_id)
        title = short_title(doc.title)
        ev_title = [ln.strip()[:40] for ln in text.split("\n") if norm(title)[:8] in norm(ln)][:1]
        ev = pick_evidence(corpus, text, [doc.doc_number, *ev_title], text)
        tid, tpl = rng.choice([("header-number-1", "《{t}》的文号是多少？"), ("header-number-2", "《{t}》是哪个文件号？"),
                               ("header-number-3", "《{t}》的发文字号是什么？")])
        qs = [Q(corpus.name, "metadata", tpl.format(t=title), ev, [doc.doc_number], doc, "document", "header", tid,
                extra={"title": title, "chunk": ci})]
        if doc.issuer:
            parts = [p for p in re.split(r"[\s、]+", doc.issuer) if p]
            tid, tpl = rng.choice([("header-issuer-1", "{n}是哪个单位印发的？"), ("header-issuer-2", "{n}的发文机关是谁？"),
                                   ("header-issuer-3", "《{t}》是哪个部门发的？")])
            qs.append(Q(corpus.name, "metadata", tpl.format(n=doc.doc_number, t=title), ev,
                        list(dict.fromkeys([doc.issuer, *parts])), doc, "document", "header", tid, extra={"title": title, "chunk": ci}))
        if doc.date:
            tid, tpl = rng.choice([("header-date-1", "《{t}》是什么时候印发的？"), ("header-date-2", "{n}是哪天发布的？"),
                                   ("header-date-3", "《{t}》的成文日期是哪天？")])
            dev = pick_evidence(corpus, text, [doc.doc_number, cn_date(doc.date)] + ev_title, text)
            qs.append(Q(corpus.name, "metadata", tpl.format(n=doc.doc_number, t=title), dev, date_answers(doc.date), doc,
                        "date", "header", tid, extra={"title": title, "chunk": ci, "date": doc.date}))
        tid, tpl = rng.choice([("header-title-1", "{n}文件的标题是什么？"), ("header-title-2", "{n}是关于什么的文件？")])
        qs.append(Q(corpus.name, "metadata", tpl.format(n=doc.doc_number), pick_evidence(corpus, text, [doc.doc_number], text, 1),
                    [title], doc, "document", "header", tid, extra={"title": title, "chunk": ci}))
        for q in qs:
            if all(norm(a) for a in q.answer) and bank.add(q):
                made.append(q)
    return made


# --------------------------------------------------------------------------------------- laws


_CN_NUM = "零〇一二三四五六七八九十百千万两"
_FINE = re.compile(
    rf"(?P<viol>[^，。；：]{{4,28}}?)的，(?:[^。；]{{0,40}}?)处(?P<fine>[{_CN_NUM}\d]+元(?:以上[{_CN_NUM}\d]+元以下)?)(?:的)?罚款"
)
_DAYS = re.compile(rf"(?P<num>[{_CN_NUM}\d]{{1,4}})(?P<unit>个工作日|日|天|个月)内")
_FORBID = re.compile(rf"^(?P<who>[{CJK}、]{{2,14}}?)不得(?P<what>[^，。；：]{{4,24}})$")
_MUST = re.compile(rf"^(?P<who>[{CJK}、]{{2,14}}?)应当(?P<what>[^，。；：]{{4,24}})$")
_PASS_LINE = re.compile(r"^(?P<date>\d{4}年\d{1,2}月\d{1,2}日)\s*(?P<who>.+?)(?P<act>通过|修正|修订|发布|公布|批准)")
_EFFECTIVE = re.compile(r"自(?P<date>\d{4}年\d{1,2}月\d{1,2}日)起施行")


def law_title(doc: Document) -> str:
    return short_title(doc.title)


def _article_of(ch: Chunk) -> str | None:
    for s in reversed(ch.section):
        if re.fullmatch(r"第[一二三四五六七八九十百零〇两]+条(?:之[一二三四五六七八九十]+)?", s):
            return s
    return None


def law_header(corpus: Corpus, bank: Bank, extra_share: float = 0.35) -> list[Q]:
    """Header facts of each law: one question per law, a second one for about a third of them."""
    made: list[Q] = []
    for doc in corpus.docs:
        cands: list[Q] = []
        ids = corpus.chunks_of_doc[doc.doc_id]
        if not ids:
            continue
        t = law_title(doc)
        rng = rng_for(corpus.name, "lawhead", doc.doc_id)
        head = corpus.chunks[ids[0]]
        lines = [ln.strip() for ln in head.text.split("\n") if ln.strip()]
        events = [m for m in (_PASS_LINE.match(ln) for ln in lines) if m]
        passed = [m for m in events if m.group("act") in ("通过", "发布", "公布", "批准")]
        if passed:
            m = passed[0]
            act = m.group("act")
            tid, tpl = rng.choice([("law-pass-1", "《{t}》是什么时候{a}的？"), ("law-pass-2", "《{t}》哪天{a}？"),
                                   ("law-pass-3", "《{t}》最早是哪一年{a}的？")])
            ev = pick_evidence(corpus, head.text, [t, m.group(0)[:40], m.group("who")[:40]], head.text)
            q = Q(corpus.name, "metadata", tpl.format(t=t, a=act), ev, [m.group("date")] + ([m.group("date")[:5]] if "哪一年" in tpl else []),
                  doc, "date", "header", tid, extra={"title": t, "chunk": ids[0], "event": act})
            cands.append(q)
            who = m.group("who").strip()
            if act == "通过" and 6 <= len(who) <= 40 and rng.random() < 0.6:
                tid, tpl = rng.choice([("law-meeting-1", "《{t}》是在哪次会议上通过的？"), ("law-meeting-2", "哪次会议通过了《{t}》？")])
                q = Q(corpus.name, "metadata", tpl.format(t=t), ev, [who], doc, "document", "header", tid,
                      extra={"title": t, "chunk": ids[0]})
                cands.append(q)
        amended = [m for m in events if m.group("act") in ("修正", "修订")]
        if amended and rng.random() < 0.7:
            m = amended[-1]
            tid, tpl = rng.choice([("law-amend-1", "《{t}》最近一次{a}是什么时候？"), ("law-amend-2", "《{t}》最后一次{a}在哪天？")])
            ev = pick_evidence(corpus, head.text, [m.group(0)[:40], t], head.text)
            q = Q(corpus.name, "metadata", tpl.format(t=t, a=m.group("act")), ev, [m.group("date")], doc, "date", "header", tid,
                  extra={"title": t, "chunk": ids[0]})
            cands.append(q)
        for ci in ids[-4:]:  # 施行 is in one of the last articles
            me = _EFFECTIVE.search(corpus.chunks[ci].text)
            if me:
                tid, tpl = rng.choice([("law-effective-1", "《{t}》从什么时候开始施行？"), ("law-effective-2", "《{t}》哪天起施行？"),
                                       ("law-effective-3", "《{t}》的施行日期是哪天？")])
                sent = re.split(r"[。]", corpus.chunks[ci].text[max(0, me.start() - 20):me.end() + 2])[0]
                ev = pick_evidence(corpus, corpus.chunks[ci].text, [me.group(0), sent[-40:]], corpus.chunks[ci].text)
                q = Q(corpus.name, "metadata", tpl.format(t=t), ev, [me.group("date")], doc, "date", "article", tid,
                      extra={"title": t, "chunk": ci, "event": "施行"})
                cands.append(q)
                break
        if not cands:
            continue
        pick = rng_for(corpus.name, "lawhead-pick", doc.doc_id)
        pick.shuffle(cands)
        for q in cands[: 2 if pick.random() < extra_share else 1]:
            if bank.add(q):
                made.append(q)
    return made


def _prose_topic(sentence: str, lead: str, duty: str, x_start: int, x_end: int) -> tuple[str, str] | None:
    """What the body is made responsible for, and the question form ("由X负责" / "X负责Y" / "Y的主管部门")."""
    before = sentence[:x_start]
    after = sentence[x_end:]
    before = re.sub(r"^\s*第[一二三四五六七八九十百零〇]+条\s*", "", before)
    before = _ITEM_LABEL.sub("", before)
    if before.endswith("由"):
        # only "Y由X负责" / "由X负责Y": other verbs after X (认定, 责令, 提出) do not make X responsible for Y
        if not after.startswith("负责"):
            return None
        pre = before[:-1].rstrip("，, ")
        pre = re.split(r"[，,]", pre)[-1] if pre else ""
        if 4 <= len(pre) <= 24 and not re.search(r"的$|应当|可以|^(?:对|在|依照|按照|根据)", pre):
            return pre, "by"
        rest = re.split(r"[，。；,]", after[2:], maxsplit=1)[0]
        if 4 <= len(rest) <= 24 and not before[:-1].strip():
            return rest, "duty"
        return None
    m = re.match(r"^(?:是|为)(?P<y>[^，。；]{2,30}?)的(?:行政)?主管部门", after)
    if m:
        y = m.group("y").lstrip("本市本省全市全省全国")
        return (y, "authority") if 2 <= len(y) <= 24 else None
    m = re.match(r"^(?:负责|主管|统一领导|牵头负责)(?P<y>[^，。；]+)", after)
    if m and not before.strip() and 4 <= len(m.group("y")) <= 26:
        return m.group("y"), "duty"
    return None


_PENALTY_START = re.compile(r"^(?:责令|处|给予|没收|吊销|予以|依法|对|并|可以|应当|按照|依照)")


def _prose_conflict(corpus: Corpus, topic: str, lead: str, doc_id: str, form: str = "") -> bool:
    """Whether another sentence of the law gives the same topic to another body (for "the 主管部门 of Y":
    another 主管 statement)."""
    nt = norm(topic)
    for i in corpus.chunk_ids_with(topic, doc_id):
        text = corpus.chunks[i].text
        for ann in find_prose_responsibilities(text):
            sent = norm(text[ann.start:ann.end])
            if form == "authority" and "主管" not in sent:
                continue
            if ann.lead_explicit and ann.lead and nt in sent and ann.lead[0] != lead:
                return True
    return False


def law_prose(corpus: Corpus, bank: Bank, limit: int, form_caps: dict[str, int]) -> list[Q]:
    made: list[Q] = []
    per_form = Counter()
    order = list(range(len(corpus.chunks)))
    rng_for(corpus.name, "prose-order").shuffle(order)
    per_doc = Counter()
    for ci in order:
        if len(made) >= limit:
            break
        ch = corpus.chunks[ci]
        doc = corpus.doc_by_id[ch.doc_id]
        if per_doc[doc.doc_id] >= 3:
            continue
        for ann in find_prose_responsibilities(ch.text):
            if not ann.lead_explicit or not ann.lead:
                continue
            lead = ann.lead[0]
            if len(lead) < 4 or re.match(r"^(?:本|其|该|有关|相关|上级|下列)", lead):
                continue
            sentence = ch.text[ann.start:ann.end]
            got = _prose_topic(sentence, lead, ann.duty, ann.marker_start - ann.start, ann.marker_end - ann.start)
            if not got:
                continue
            topic, form = got
            topic = topic.replace("本条例", "该条例").replace("本规定", "该规定").replace("本办法", "该办法")
            if _BAD_TOPIC.search(topic) or len(topic) < 4 or _PENALTY_START.match(topic):
                continue
            if per_form[form] >= form_caps.get(form, limit):
                continue
            # the same duty given to another body elsewhere in this law makes the question ambiguous
            if _prose_conflict(corpus, topic, lead, doc.doc_id, form):
                continue
            t = law_title(doc)
            rng = rng_for(corpus.name, "prose", ci, ann.start)
            if form == "authority":
                tid, tpl = rng.choice([("law-lead-auth-1", "按照《{d}》，{t}的主管部门是哪个？"),
                                       ("law-lead-auth-2", "《{d}》规定{t}由哪个部门主管？"),
                                       ("law-lead-auth-3", "{t}归哪个部门主管？（《{d}》）")])
            elif form == "by":
                tid, tpl = rng.choice([("law-lead-by-1", "按照《{d}》，{t}由哪个部门负责？"),
                                       ("law-lead-by-2", "《{d}》里，{t}由谁负责？"),
                                       ("law-lead-by-3", "根据《{d}》，{t}归哪个机关管？")])
            else:
                tid, tpl = rng.choice([("law-lead-duty-1", "按照《{d}》，谁负责{t}？"),
                                       ("law-lead-duty-2", "《{d}》规定由哪个部门负责{t}？"),
                                       ("law-lead-duty-3", "根据《{d}》，{t}是哪个部门的职责？")])
            ev = pick_evidence(corpus, ch.text, [sentence[:40] if len(sentence) <= 40 else "", topic], sentence)
            q = Q(corpus.name, "lead_unit", tpl.format(d=t, t=topic), ev, legal_spellings(lead), doc, "lead_unit", "article",
                  tid, extra={"topic": topic, "chunk": ci, "title": t, "form": form}, fields={"role": "lead"})
            if bank.add(q):
                made.append(q)
                per_doc[doc.doc_id] += 1
                per_form[form] += 1
                break
    return made


def law_figures(corpus: Corpus, bank: Bank, limit_fine: int, limit_days: int) -> list[Q]:
    made: list[Q] = []
    nf = nd = 0
    for ci, ch in enumerate(corpus.chunks):
        doc = corpus.doc_by_id[ch.doc_id]
        t = law_title(doc)
        rng = rng_for(corpus.name, "lawfig", ci)
        art = _article_of(ch)
        for sent in re.split(r"[。；\n]", ch.text):
            m = _FINE.search(sent)
            if m and nf < limit_fine:
                viol = re.sub(r"^(?:违反本(?:条例|规定|办法)[^，]*?规定，)", "", m.group("viol")).strip()
                viol = re.sub(r"^第[一二三四五六七八九十百零〇]+条\s*", "", viol)
                if 4 <= len(viol) <= 24 and not _BAD_TOPIC.search(viol) and corpus.count(viol) == 1:
                    tid, tpl = rng.choice([("law-fine-1", "按照《{d}》，{v}的，罚款多少？"),
                                           ("law-fine-2", "《{d}》规定，{v}要罚多少钱？"),
                                           ("law-fine-3", "根据《{d}》，{v}会被处多少罚款？")])
                    ev = pick_evidence(corpus, ch.text, [viol, m.group(0)[-40:]], sent)
                    q = Q(corpus.name, "detail", tpl.format(d=t, v=viol), ev, [m.group("fine")], doc, "number", "article",
                          tid, extra={"topic": viol, "chunk": ci, "title": t, "article": art})
                    if bank.add(q):
                        made.append(q)
                        nf += 1
            for cl in re.split(r"[，,：]", sent):
                md = _DAYS.search(cl)
                if not md or nd >= limit_days or not (10 <= len(cl) <= 36):
                    continue
                if not re.search(r"应当|须|必须|可以|内", cl) or _BAD_TOPIC.search(cl[:2]):
                    continue
                masked = cl[:md.start()] + "多少" + md.group("unit") + "内" + cl[md.end():]
                masked = re.sub(r"^第[一二三四五六七八九十百零〇]+条\s*", "", masked).strip()
                masked = masked.replace("本条例", "该条例").replace("本规定", "该规定").replace("本办法", "该办法")
                rest = norm(cl[:md.start()] + "@" + cl[md.end():])
                pre, post = rest.split("@")
                if (len(pre) < 4 and len(post) < 4) or corpus.count(cl) != 1:
                    continue
                tid, tpl = rng.choice([("law-days-1", "按照《{d}》，{c}？"), ("law-days-2", "《{d}》规定，{c}？")])
                ev = pick_evidence(corpus, ch.text, [cl.strip()], sent)
                q = Q(corpus.name, "detail", tpl.format(d=t, c=masked), ev, [md.group("num") + md.group("unit")], doc,
                      "number", "article", tid, extra={"topic": masked, "chunk": ci, "title": t})
                if bank.add(q):
                    made.append(q)
                    nd += 1
    return made


def law_yes_no(corpus: Corpus, bank: Bank, limit: int) -> list[Q]:
    made: list[Q] = []
    order = list(range(len(corpus.chunks)))
    rng_for(corpus.name, "yn-order").shuffle(order)
    for ci in order:
        if len(made) >= limit:
            break
        ch = corpus.chunks[ci]
        doc = corpus.doc_by_id[ch.doc_id]
        t = law_title(doc)
        for cl in re.split(r"[，。；：\n]", ch.text):
            cl = re.sub(r"^\s*第[一二三四五六七八九十百零〇]+条\s*", "", cl).strip()
            rng = rng_for(corpus.name, "yn", ci, cl)
            m = _FORBID.match(cl)
            if m and not re.search(r"^(?:但|除|任何|其|对|在)", m.group("who")):
                tid, tpl = rng.choice([("yn-forbid-1", "按照《{d}》，{w}可以{x}吗？"), ("yn-forbid-2", "《{d}》允许{w}{x}吗？")])
                ans = ["不得", "不可以", "不能", "不允许"]
            else:
                m = _MUST.match(cl)
                if not m or re.search(r"^(?:但|除|其|对|在)", m.group("who")):
                    continue
                tid, tpl = rng.choice([("yn-must-1", "按照《{d}》，{w}是否应当{x}？"), ("yn-must-2", "《{d}》要求{w}{x}吗？")])
                ans = ["应当", "需要", "必须"]
            if corpus.count(cl) != 1 or len(cl) < 8:
                continue
            what = m.group("what").replace("本条例", "该条例").replace("本规定", "该规定")
            q = Q(corpus.name, "detail", tpl.format(d=t, w=m.group("who"), x=what),
                  pick_evidence(corpus, ch.text, [cl], cl, 1), ans, doc, "yes_no", "article", tid,
                  extra={"topic": m.group("what"), "chunk": ci, "title": t})
            if bank.add(q):
                made.append(q)
                break
    return made


# --------------------------------------------------------------------------------------- perturbations


class AllText:
    """Whitespace-free text of every corpus, for absence checks."""

    def __init__(self, corpora: dict[str, Corpus]) -> None:
        self.blob = "\x00".join(c.blob for c in corpora.values())
        self.chunks = [t for c in corpora.values() for t in c.norm_chunks]

    def absent(self, s: str) -> bool:
        return norm(s) not in self.blob

    def never_together(self, a: str, b: str) -> bool:
        na, nb = norm(a), norm(b)
        return not any(na in t and nb in t for t in self.chunks)


def perturbation_problems(chk: dict, corpora: dict[str, Corpus], allt: AllText) -> list[str]:
    """What is wrong with an unanswerable question's `check` (empty: the perturbation truly is absent)."""
    out = []
    for s in chk.get("absent", []):
        if not allt.absent(s):
            out.append(f"'{s}' should be absent from the corpora but occurs")
    for a, b in chk.get("never_together", []):
        if not allt.never_together(a, b):
            out.append(f"'{a}' and '{b}' should never share a chunk but do")
    in_doc = chk.get("absent_in_doc")
    if in_doc:
        texts = [c.doc_text(d.doc_id) for c in corpora.values() for d in c.docs if in_doc["doc"] in (d.doc_number, d.title)]
        if not texts:
            out.append(f"document {in_doc['doc']} not found")
        for s in in_doc["strings"]:
            if any(norm(s) in t for t in texts):
                out.append(f"'{s}' should be absent from {in_doc['doc']} but occurs")
    return out


def perturb(bank: Bank, corpora: dict[str, Corpus], allt: AllText, targets: dict[str, dict[str, int]]) -> None:
    """Make unanswerable questions from the answerable ones, per corpus and perturbation kind."""
    absent_topics = [(k, t) for k, t in ABSENT_TOPICS if allt.absent(k)]
    by_corpus: dict[str, list[Q]] = defaultdict(list)
    for q in bank.answerable:
        by_corpus[q.corpus].append(q)
    for cname, qs in by_corpus.items():
        corpus = corpora[cname]
        want = targets.get(cname, {})
        got = Counter()
        order = list(qs)
        rng_for(cname, "perturb-order").shuffle(order)
        for q in order:
            rng = rng_for(cname, "perturb", q.question)
            t = q.extra.get("topic")
            made: list[U] = []
            # another year: the figure / title is given for one year only
            if q.answer_type == "number" and q.extra.get("year") and got["year"] < want.get("year", 0):
                y = int(q.extra["year"])
                for ny in rng.sample([y + 2, y + 4, y - 2, y + 1], 4):
                    subj = q.extra["subject"]
                    if allt.never_together(subj, f"{ny}年") and allt.never_together(subj, f"{ny}"):
                        when = q.extra["when"].replace(str(y), str(ny)) or f"{ny}年"
                        made.append(U(q, f"{when}{q.extra['ask']}", "another_year", "u-year-figure",
                                      {"never_together": [[subj, f"{ny}"]]}))
                        got["year"] += 1
                        break
            elif q.source == "header" and q.corpus != "laws" and "title" in q.extra and got["year"] < want.get("year", 0) \
                    and q.template.startswith("header-number"):
                m = re.search(r"20\d\d", q.extra["title"])
                if m:
                    ny = str(int(m.group(0)) + rng.choice([2, 4]))
                    new_title = q.extra["title"].replace(m.group(0), ny)
                    if allt.absent(new_title):
                        made.append(U(q, q.question.replace(q.extra["title"], new_title), "another_year", "u-year-title",
                                      {"absent": [new_title]}))
                        got["year"] += 1
            # a person where only units are named
            if q.answer_type == "lead_unit" and t and got["person"] < want.get("person", 0) and rng.random() < 0.6:
                chk = {"never_together": [[t, w] for w in ("责任人", "负责人", "组长", "领导：", "总指挥", "同志")]}
                texts = [corpus.chunks[i].text for i in corpus.chunk_ids_with(t)]
                if texts and not any(_PERSON_ROLE.search(x) for x in texts) and not perturbation_problems(chk, corpora, allt):
                    tid, tpl = rng.choice(PERSON_U_TEMPLATES)
                    qt = tpl.format(t=t if q.corpus != "laws" else f"按照《{q.extra['title']}》，{t}")
                    made.append(U(q, qt, "person_not_named", tid, chk))
                    got["person"] += 1
            # a figure the text does not give
            elif q.answer_type == "lead_unit" and t and got["figure"] < want.get("figure", 0) and rng.random() < 0.6:
                chk = {"never_together": [[t, w] for w in ("万元", "亿元", "资金", "投资")]}
                if not re.search(r"费|资金|经费|预算|投资|补助|补贴|奖", t) and not perturbation_problems(chk, corpora, allt):
                    tid, tpl = rng.choice(MONEY_U_TEMPLATES)
                    qt = tpl.format(t=t if q.corpus != "laws" else f"按照《{q.extra['title']}》，{t}")
                    made.append(U(q, qt, "figure_not_given", tid, chk))
                    got["figure"] += 1
            # topic moved to one the corpus lacks
            if q.answer_type == "lead_unit" and t and got["topic"] < want.get("topic", 0) and rng.random() < 0.45:
                key, new = rng.choice(absent_topics)
                verb = next((v for v in _LEAD_VERBS if t.startswith(v)), "")
                new_t = (verb + new) if verb and not new.startswith(verb) else new
                qt = q.question.replace(t, new_t)
                if qt != q.question:
                    made.append(U(q, qt, "topic_absent", f"u-topic-{q.template}", {"absent": [key]}))
                    got["topic"] += 1
            elif q.corpus == "laws" and q.source == "header" and q.answer_type == "date" and got["year"] < want.get("year", 0):
                m = re.search(r"(\d{4})年", q.answer[0])
                doc_text = corpus.doc_text(q.doc.doc_id)
                if m:
                    for ny in rng.sample(range(int(m.group(1)) + 1, 2026), min(4, max(0, 2025 - int(m.group(1))))):
                        if f"{ny}年" not in doc_text:
                            title = q.extra["title"]
                            qt = rng.choice([f"《{title}》{ny}年修订版是哪天通过的？", f"《{title}》在{ny}年做过修正吗？修正决定哪天通过？"])
                            made.append(U(q, qt, "another_year", "u-year-law",
                                          {"absent_in_doc": {"doc": q.doc_key, "strings": [f"{ny}年"]}}))
                            got["year"] += 1
                            break
            # an event's date where only the document's issue date exists
            if q.source == "header" and q.answer_type == "date" and got["event_date"] < want.get("event_date", 0):
                title = q.extra["title"]
                doc_text = corpus.doc_text(q.doc.doc_id)
                if q.corpus == "laws":
                    ev_word, qt = "废止", rng.choice([f"《{title}》是哪天废止的？", f"《{title}》什么时候失效？"])
                    check_words = ["废止", "失效"]
                else:
                    ev_word, qt = "施行", rng.choice([f"《{title}》从哪天起施行？", f"《{title}》的工作总结会是哪天开的？"])
                    check_words = ["施行"] if "施行" in qt else ["总结会"]
                if not any(w in doc_text for w in check_words):
                    made.append(U(q, qt, "event_date", f"u-event-{ev_word}",
                                  {"absent_in_doc": {"doc": q.doc_key, "strings": check_words}}))
                    got["event_date"] += 1
            # a role nobody fills / a unit for a task that names none are made separately
            for u in made:
                bank.add_u(u)


def role_not_filled(corpus: Corpus, bank: Bank, allt: AllText) -> None:
    """副组长 of a group that has none; the 组长 / 总指挥 of a body whose members the corpus never lists."""
    members = member_lists(corpus)
    by_body: dict[str, set[str]] = defaultdict(set)
    base_q: dict[str, Q] = {}
    for q in bank.answerable:
        if q.corpus == corpus.name and q.source == "member_list":
            base_q.setdefault(q.extra["body"], q)
    for m in members:
        by_body[m.body].add(m.role)
    for body, roles in sorted(by_body.items()):
        q = base_q.get(body)
        if not q:
            continue
        rng = rng_for(corpus.name, "role", body)
        for role in ("副组长", "组长") if body.endswith("组") else ("执行总指挥", "常务副总指挥"):
            if role not in roles and allt.never_together(body, role):
                tpl = rng.choice(["{b}的{r}是谁？", "谁担任{b}{r}？"])
                bank.add_u(U(q, tpl.format(b=body, r=role), "role_not_filled", "u-role", {"never_together": [[body, role]]}))
                break
    # bodies named in running text with no member list: "…领导小组的组长是谁？"
    names = Counter()
    for ch in corpus.chunks:
        for m in re.finditer(rf"(?:市|青铜峡市)([{CJK}]{{4,24}}?领导小组)", ch.text):
            names["市" + m.group(1)] += 1
    for body, _ in sorted(names.items()):
        if body in by_body or not re.match(rf"^市[{CJK}]+领导小组$", body) or "成员" in body:
            continue
        ids = corpus.chunk_ids_with(body)
        if not ids or any(re.search(r"组\s*长", corpus.chunks[i].text) for i in ids):
            continue
        ch = corpus.chunks[ids[0]]
        doc = corpus.doc_by_id[ch.doc_id]
        base = Q(corpus.name, "detail", "", [], [], doc, "person", "member_list", "", extra={"body": body})
        # no answerable question stands behind this one (from_id null): only its document matters
        bank.add_u(U(base, f"{body}的组长是谁？", "role_not_filled", "u-role-unlisted", {"never_together": [[body, "组长"]]}))


def no_unit_tasks(corpus: Corpus, bank: Bank, limit: int) -> None:
    """Lead questions about items that name no unit (and no responsibility) anywhere."""
    n = 0
    for ci, ch in enumerate(corpus.chunks):
        if n >= limit:
            break
        if ch.kind != "paragraph" or chunk_annotations(corpus, ci) or find_prose_responsibilities(ch.text):
            continue
        text, labelled = strip_label(ch.text.split("\n")[-1])
        if not labelled:
            continue
        first = re.split(r"[。]", text, maxsplit=1)[0]
        if not (4 <= len(first) <= 20) or "，" in first or _BAD_TOPIC.search(first):
            continue
        ids = corpus.chunk_ids_with(first)
        if any(chunk_annotations(corpus, i) or re.search(r"负责|牵头|责任单位|主管", corpus.chunks[i].text) for i in ids):
            continue
        doc = corpus.doc_by_id[ch.doc_id]
        rng = rng_for(corpus.name, "nounit", ci)
        tid, tpl = rng.choice(LEAD_TEMPLATES)
        base = Q(corpus.name, "lead_unit", "", [], [], doc, "lead_unit", "task_item", "", extra={"topic": first, "placeholder": True})
        if bank.add_u(U(base, tpl.format(t=first), "no_unit_named", f"u-nounit-{tid}",
                        {"never_together": [[first, "牵头"], [first, "负责"], [first, "责任单位"]]})):
            n += 1


# --------------------------------------------------------------------------------------- output


_PREFIX = {"gazette": "gz", "laws": "lw", "govcn": "gc"}


def render(bank: Bank) -> list[dict]:
    records: list[dict] = []
    ids: dict[int, str] = {}
    counters = Counter()
    for q in bank.answerable:
        counters[q.corpus] += 1
        qid = f"{_PREFIX[q.corpus]}-a-{counters[q.corpus]:04d}"
        ids[id(q)] = qid
        rec = {"id": qid, "type": q.qtype, "question": q.question, "evidence": q.evidence, "answer": q.answer,
               "doc": q.doc_key, "corpus": q.corpus, "answer_type": q.answer_type, "source": q.source,
               "split": split_of(q.corpus, q.doc_key), "template": q.template, "file": q.doc.source}
        rec.update(q.fields)
        records.append(rec)
    ucount = Counter()
    for u in bank.unanswerable:
        q = u.base
        ucount[q.corpus] += 1
        rec = {"id": f"{_PREFIX[q.corpus]}-u-{ucount[q.corpus]:04d}", "type": "unanswerable", "question": u.question,
               "evidence": [], "answer": [], "doc": q.doc_key, "corpus": q.corpus, "answer_type": "none",
               "source": q.source, "split": split_of(q.corpus, q.doc_key), "template": u.template,
               "file": q.doc.source, "perturbation": u.perturbation, "from_id": ids.get(id(q)), "check": u.check}
        records.append(rec)
    return records


def build(shared: Path) -> list[dict]:
    corpora = load_corpora(shared)
    allt = AllText(corpora)
    bank = Bank()
    if "gazette" in corpora:
        g = corpora["gazette"]
        gazette_like_tasks(g, bank, {"lead": 120, "resp": 40, "support": 25, "deadline": 20})
        figures(g, bank, 45, context_title=True)
        headers(g, bank)
        persons(g, bank, "青铜峡")
    if "laws" in corpora:
        law = corpora["laws"]
        law_header(law, bank)
        law_prose(law, bank, 120, {"duty": 50, "by": 40})
        law_figures(law, bank, 30, 25)
        law_yes_no(law, bank, 30)
    if "govcn" in corpora:
        gc = corpora["govcn"]
        gazette_like_tasks(gc, bank, {"lead": 80, "resp": 30, "support": 20, "deadline": 10})
        figures(gc, bank, 25, context_title=False)
        headers(gc, bank)
    perturb(bank, corpora, allt, {
        "gazette": {"year": 20, "person": 32, "figure": 28, "topic": 35, "event_date": 7},
        "laws": {"year": 30, "person": 35, "figure": 35, "topic": 45, "event_date": 30},
        "govcn": {"year": 10, "person": 15, "figure": 12, "topic": 18, "event_date": 8},
    })
    if "gazette" in corpora:
        role_not_filled(corpora["gazette"], bank, allt)
        no_unit_tasks(corpora["gazette"], bank, 20)
    if "govcn" in corpora:
        no_unit_tasks(corpora["govcn"], bank, 12)
    # a perturbation is checked against every corpus (the checker's rule): a topic with no unit in its
    # own corpus may be given one in another
    bank.unanswerable = [u for u in bank.unanswerable if not perturbation_problems(u.check, corpora, allt)]
    return render(bank)


def write(records: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSONL file to write (default {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help="the shared folder holding corpora/laws-sample and corpora/govcn-html-sample (default: ../shared)")
    args = ap.parse_args(argv)
    records = build(args.shared)
    write(records, args.out)
    c = Counter((r["corpus"], r["type"] == "unanswerable") for r in records)
    for corpus in sorted({k[0] for k in c}):
        print(f"{corpus:8s} answerable {c[(corpus, False)]:4d}  unanswerable {c[(corpus, True)]:4d}")
    print(f"{len(records)} questions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
