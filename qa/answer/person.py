"""Person answers: who holds a role, from member lists and from sentences that appoint someone.

Government documents name people in two ways:

* member lists of a 指挥部 / 领导小组 / 工作组: "总指挥：文学智 市委副书记、政府代市长", then lines that
  continue the same role ("张克宁 市委常委、政府副市长" under 副总指挥), labels often spaced by the
  print conversion ("组 长：王 浩 市住房和城乡建设局局长");
* sentences: "贺怡同志兼任办公室主任", "办公室主任由张三担任", "由李四同志任组长".

A question names the role it asks for (总指挥, 组长, 办公室主任) or an office (市长, 局长) held as a title.
A role matches only itself: 组长 is not 副组长, 市长 is not 副市长 (but 代市长 holds the office of 市长).
When no entry holds the asked role, there is no answer: a unit named for the task is not a person.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.overlap import coverage, question_terms

from .patterns import PERSON_NAME, TITLE_END

# A member-list label: short, ends in a role word ("总指挥", "副 组 长", "成 员", "责任领导", "办公室主任").
_LABEL = re.compile(
    r"^[ \t\u3000]*((?:[\u4e00-\u9fa5][ \u3000]?){0,6}?(?:指[ \u3000]?挥|组[ \u3000]?长|主[ \u3000]?任|成[ \u3000]?员|领[ \u3000]?导|"
    r"负[ \u3000]?责[ \u3000]?人|联[ \u3000]?系[ \u3000]?人|召[ \u3000]?集[ \u3000]?人|书[ \u3000]?记|秘[ \u3000]?书[ \u3000]?长|会[ \u3000]?长"
    r"|主[ \u3000]?编))"
    r"[ \t\u3000]*[:：][ \t\u3000]*(.+)$"
)
# "NAME TITLE": a name of 2–4 characters (maybe spaced "王 浩"), a space, then a title that ends like one.
_ENTRY = re.compile(rf"^[ \t\u3000]*({PERSON_NAME}?)[ \t\u3000]+(\S.*?)[ \t\u3000]*$")
# Appointments in running text.
_APPOINTED = [
    re.compile(r"(?P<name>[\u4e00-\u9fa5]{2,3})同志(?:兼任|担任|任)(?P<role>[\u4e00-\u9fa5]{2,10}?)(?=[，。；、,]|$)"),
    re.compile(r"(?P<role>[\u4e00-\u9fa5]{2,10}?)由(?P<name>[\u4e00-\u9fa5]{2,3})(?:同志)?(?:兼任|担任)"),
    re.compile(r"由(?P<name>[\u4e00-\u9fa5]{2,3})(?:同志)?(?:兼任|担任|任)(?P<role>[\u4e00-\u9fa5]{2,10}?)(?=[，。；、,]|$)"),
    # "成立了以华中科技大学刘广润院士为组长…的专家组": a name, its honorific, then 为 + role
    re.compile(r"以[^，。；]{0,20}?(?P<name>[\u4e00-\u9fa5]{2,3})(?:院士|教授|研究员|同志|先生|女士)为(?P<role>[\u4e00-\u9fa5]{2,6}?)"
               r"(?=[，。；、,的]|$)"),
]
# a bare label value that is a body or a thing, not a name ("主任：市教育局", "组长：待定")
_UNIT_WORD = re.compile(r"[局委办部厅院所站队组室处科会社馆中心府]$|待定|空缺|另行")
_NOT_NAME = re.compile(r"^(?:各|市|县|镇|由|为|和|及|其|本|该|主要|分管|相关|有关|负责|牵头|配合|责任)")


@dataclass(frozen=True)
class PersonEntry:
    """One person and the role they hold, as printed."""

    name: str  # as printed ("王 浩")
    role: str  # the list label or appointed role, spaces removed ("组长", "副总指挥", "办公室主任")
    title: str  # the office printed after the name ("市委副书记、政府代市长"), may be ""
    start: int
    end: int


def _squash(s: str) -> str:
    return re.sub(r"[ \t\u3000]", "", s)


def _split_name_title(rest: str, bare: bool = False) -> tuple[str, str] | None:
    """"王 浩 市住房和城乡建设局局长" → ("王 浩", "市住房和城乡建设局局长"). With `bare` (the value of a
    role label), a name printed alone ("主任：吴文彪") is an entry with no title."""
    parts = re.split(r"[ \t\u3000]+", rest.strip())
    if bare and len(parts) == 1 and re.fullmatch(r"[\u4e00-\u9fa5]{2,3}", parts[0]) and not _NOT_NAME.match(parts[0]) \
            and not _UNIT_WORD.search(parts[0]):
        return parts[0], ""
    if len(parts) < 2:
        return None
    if len(parts[0]) == 1 and len(parts) >= 3 and len(parts[1]) == 1:
        name, title = f"{parts[0]} {parts[1]}", " ".join(parts[2:])
    else:
        name, title = parts[0], " ".join(parts[1:])
    if not (2 <= len(_squash(name)) <= 4) or not re.fullmatch(r"[\u4e00-\u9fa5 ]+", name):
        return None
    if not TITLE_END.search(title) or _NOT_NAME.match(name):
        return None
    return name, title


def member_entries(text: str) -> list[PersonEntry]:
    """Every person of the member lists in `text`, with the role of the label above them."""
    out: list[PersonEntry] = []
    role: str | None = None
    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        m = _LABEL.match(line)
        if m:
            role = _squash(m.group(1))
            split = _split_name_title(m.group(2), bare=True)
            if split:
                out.append(PersonEntry(split[0], role, split[1], start, end))
            elif not re.search(r"指挥|组长|成员", role):
                role = None  # "主要职责：…", "牵头单位：…": not a list of people
            continue
        if role is None:
            continue
        split = _split_name_title(line)
        if split:
            out.append(PersonEntry(split[0], role, split[1], start, end))
        else:
            role = None  # the list has ended
    return out


def appointed_entries(text: str) -> list[PersonEntry]:
    """People appointed in running text: "贺怡同志兼任办公室主任", "办公室主任由张三担任"."""
    out = []
    for pattern in _APPOINTED:
        for m in pattern.finditer(text):
            name = m.group("name")
            if _NOT_NAME.match(name):
                continue
            out.append(PersonEntry(name, _squash(m.group("role")), "", m.start(), m.end()))
    return out


def holds_role(entry: PersonEntry, asked: str) -> bool:
    """Whether the entry holds the asked role, as a list label or as an office in its title.
    A 副 role is a different role; 代市长 holds the office of 市长."""
    for held in (entry.role, *re.split(r"[、，,]", _squash(entry.title))):
        i = held.rfind(asked)
        if i < 0:
            continue
        if asked.startswith("副"):
            return True
        if held[max(0, i - 1):i] == "副" or held[max(0, i - 2):i] == "常务":
            continue
        # "主任" asked, "办公室主任" held is fine; "组长" asked, "副组长" held is not (handled above)
        return True
    return False


@dataclass(frozen=True)
class PersonCandidate:
    entry: PersonEntry
    passage: int
    match: float  # how well the question's topic matches the entry's list (heading, document)


def find_person(question: str, role: str | None, passages: list, top: list[int]) -> PersonCandidate | None:
    """The person holding `role` in the list that best matches the question's topic."""
    q = question_terms(re.sub(re.escape(role), "", question) if role else question)
    best = None
    for rank, i in enumerate(top):
        p = passages[i]
        entries = member_entries(p.text) + appointed_entries(p.text)
        for e in entries:
            if role and not holds_role(e, role):
                continue
            if not role and not e.role:
                continue
            context = " ".join([p.doc_title or "", *p.section, p.text[:max(0, e.start)][-80:], e.title, e.role])
            match = coverage(q, context)
            score = match - 0.04 * rank
            if best is None or score > best[0]:
                best = (score, PersonCandidate(e, i, match))
    return best[1] if best else None
