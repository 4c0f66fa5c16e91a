"""Small pure helpers shared by the readers of Chinese government documents.

Nothing here knows about a particular source file: dates written the Chinese way, document numbers
(文号), the numbering labels of headings and items (一、 / （一） / 1. / (1) / 附件1), the units
(牵头单位 / 责任单位 …) that follow a task, the clean-up of print-conversion noise in a line, and
deterministic ASCII document ids.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import re

CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_CJK_CHAR = f"[{CJK}]"

# 文号: issuer abbreviation, year in 〔〕 (print conversions also give [] ［］ () （） 【】), sequence, 号.
# The prefix must start where a run of CJK characters starts, so that "印发青政发〔2021〕1号" does not
# grab "印发" into the prefix; a quoted 文号 is normally preceded by （ 《 a space or a line start.
DOC_NUMBER_RE = re.compile(
    rf"(?<![{CJK}])(?P<prefix>[{CJK}]{{1,12}}?)\s*[〔\[［【(（]\s*(?P<year>(?:19|20)\d{{2}})\s*"
    rf"[〕\]］】)）]\s*(?P<seq>\d{{1,5}})\s*号"
)

_DATE_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_DATE_RE = re.compile(r"([〇○零一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日")

# Units that a task names after it ("牵头单位：市水务局"), possibly in parentheses, and its deadline.
UNIT_LINE_RE = re.compile(
    r"^[（(]?\s*(?:(?:牵头|责任|配合|协办|主办|参与|实施|督办)(?:单位|部门)|完成时限|完成时间|时间节点)\s*[：:]"
)

_CN_NUM = "一二三四五六七八九十百零〇"
_HEADING_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (0, re.compile(r"^附\s*件\s*(\d{0,3})(?=\s|$)")),  # 附件 / 附件1 / 附件 1 (not 附件：…, a list)
    (1, re.compile(rf"^([{_CN_NUM}]{{1,3}})\s*[、．.]")),  # 一、
    (2, re.compile(rf"^[（(]\s*([{_CN_NUM}]{{1,3}})\s*[）)]")),  # （一） (一)
    (3, re.compile(r"^(\d{1,3})\s*[.．、](?!\d)")),  # 1. 1、 1． but not 1.5
    (4, re.compile(r"^[（(]\s*(\d{1,3})\s*[）)]")),  # （1） (1)
    (5, re.compile(r"^([①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳])")),
]

_FULLWIDTH_PUNCT = "，。、；：！？“”‘’（）《》〔〕【】…—≥≤"
_LATEX_SYMBOLS = {r"\geq": "≥", r"\leq": "≤", r"\ge": "≥", r"\le": "≤", r"\times": "×", r"\%": "%", r"\pm": "±"}


def parse_cn_date(text: str) -> str | None:
    """The first date written like 2021年5月12日 / 2021 年 5 月 12 日 / 二〇二一年五月十二日, as ISO 8601."""
    m = _DATE_RE.search(text)
    if m:
        return _iso_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _CN_DATE_RE.search(text)
    if m:
        year = int("".join(str(_CN_DIGITS[c]) for c in m.group(1)))
        return _iso_date(year, _cn_small_number(m.group(2)), _cn_small_number(m.group(3)))
    return None


def _cn_small_number(text: str) -> int:
    """一 … 三十一 as an int (only what month and day numbers need)."""
    if "十" not in text:
        return _CN_DIGITS[text]
    tens, _, units = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)


def _iso_date(year: int, month: int, day: int) -> str | None:
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def is_date_line(text: str) -> bool:
    """Whether the line is nothing but a date (the line under a signature)."""
    t = spaceless(text)
    return bool(_DATE_RE.fullmatch(t) or _CN_DATE_RE.fullmatch(t))


def normalize_doc_number(match: re.Match[str]) -> str:
    """A 文号 match in its canonical printed form, e.g. 青政办发〔2021〕14号."""
    return f"{match.group('prefix')}〔{match.group('year')}〕{match.group('seq')}号"


def find_doc_numbers(text: str) -> list[str]:
    """Every 文号 in the text, canonical form, in order."""
    return [normalize_doc_number(m) for m in DOC_NUMBER_RE.finditer(text)]


def doc_number_of_line(line: str) -> str | None:
    """The 文号 when the whole line is one (the line under a notice title), else None."""
    t = spaceless(line)
    m = DOC_NUMBER_RE.fullmatch(t)
    return normalize_doc_number(m) if m else None


def heading_level(line: str) -> tuple[int, str] | None:
    """The numbering label a line starts with and its level, or None.

    Levels: 0 附件N (starts a new top-level path), 1 一、, 2 （一）/(一), 3 1./1、, 4 （1）/(1), 5 ①.
    The label is returned as printed, without inner spaces, with "．" written "." (e.g. "14.", "（三）").
    """
    t = line.strip()
    if re.match(r"^附\s*件\s*[：:]", t):  # "附件：1. …" lists the attachments; it is not a heading
        return None
    for level, pattern in _HEADING_PATTERNS:
        m = pattern.match(t)
        if m:
            label = spaceless(m.group(0)).replace("．", ".")
            return level, label
    return None


def is_unit_line(line: str) -> bool:
    """Whether the line names the units or deadline of a task (牵头单位：… / 完成时限：…)."""
    return bool(UNIT_LINE_RE.match(line.strip()))


def spaceless(text: str) -> str:
    """The text with all whitespace removed (to compare lines that a conversion spaced differently)."""
    return re.sub(r"\s+", "", text)


def strip_markup(text: str) -> str:
    """Remove what a PDF/HTML conversion leaves in text: <p> tags and inline LaTeX ($\\geq 90\\%$, PM_{2.5})."""
    text = re.sub(r"</?p>", "", text)

    def _latex(m: re.Match[str]) -> str:
        body = m.group(1)
        for symbol, char in _LATEX_SYMBOLS.items():
            body = body.replace(symbol, char)
        return re.sub(r"[{}]", "", body.replace("_", "").replace("^", ""))

    text = re.sub(r"\$([^$]{1,80})\$", _latex, text)
    return re.sub(r"[_^]\{([^{}]{1,20})\}", r"\1", text)


def tighten_spaces(text: str) -> str:
    """Remove the stray spaces a print conversion puts around numbers and Chinese punctuation.

    "2021 年" -> "2021年", "调转增融 “四篇文章”" -> "调转增融“四篇文章”", "32 微克 / 立方米" ->
    "32微克/立方米". A space between two Chinese words is kept: it often separates names
    ("青铜峡市委 人民政府"). Newlines are kept.
    """
    text = re.sub(r"[ \t\u3000\xa0]+", " ", text)
    text = re.sub(rf"(?<=[\d%])[ ](?={_CJK_CHAR})", "", text)  # not after "1." (an item label)
    text = re.sub(rf"(?<={_CJK_CHAR})[ ](?=\d)", "", text)
    text = re.sub(rf"[ ]*([{_FULLWIDTH_PUNCT}])[ ]*", r"\1", text)
    text = re.sub(rf"(?<=[{CJK}\d])[ ]*/[ ]*(?=[{CJK}\d])", "/", text)
    return "\n".join(part.strip() for part in text.split("\n"))


def repair_text(text: str) -> str:
    """The clean-up every reader applies to a line of converted text."""
    return tighten_spaces(strip_markup(text))


def join_single_char_runs(text: str) -> str:
    """Close up letter-spaced words ("生态 保 护 修 复" -> "生态保护修复"), keep spaces between words."""
    tokens = text.split(" ")
    if len(tokens) < 2:
        return text
    out = tokens[0]
    for prev, tok in zip(tokens, tokens[1:]):
        single = re.fullmatch(_CJK_CHAR, prev) or re.fullmatch(_CJK_CHAR, tok)
        out += tok if single else " " + tok
    return out


def stable_doc_id(source: str, doc_number: str | None = None, title: str | None = None) -> str:
    """A short, URL-safe, deterministic id for a document of `source`.

    With a 文号 it reads "doc-<year>-<seq>-<hash8>" (e.g. doc-2021-16-3f2a9c1e); the hash covers the
    source and the whole 文号, so two series that share year and sequence do not collide. Without a
    文号 it is "doc-<hash10>" of the source and the title.
    """
    if doc_number:
        m = DOC_NUMBER_RE.search(spaceless(doc_number))
        if m:
            digest = hashlib.sha1(f"{source}|{normalize_doc_number(m)}".encode("utf-8")).hexdigest()[:8]
            return f"doc-{m.group('year')}-{m.group('seq')}-{digest}"
    digest = hashlib.sha1(f"{source}|{spaceless(title or '')}".encode("utf-8")).hexdigest()[:10]
    return f"doc-{digest}"


_LABEL_PREFIX_RE = re.compile(
    rf"^(?:附\s*件\s*\d*|[{_CN_NUM}]{{1,3}}\s*[、．.]|[（(]\s*[\d{_CN_NUM}]{{1,3}}\s*[）)]|\d{{1,3}}\s*[.．、](?!\d)|[①-⑳])\s*"
)


def strip_label(line: str) -> str:
    """The line without its numbering label ("（三）着力提升…" -> "着力提升…")."""
    return _LABEL_PREFIX_RE.sub("", line.strip(), count=1)
