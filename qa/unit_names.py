"""The unit directory: which spellings in the documents name the same unit, by general rules of Chinese
unit names — never by a list of one corpus's units.

A unit is named many ways: "市住房和城乡建设局", "住房和城乡建设局", "住建局"; "市委宣传部", "宣传部";
"裕民街道办事处", "裕民街道"; "小坝镇党委和政府", "小坝镇"; "团市委", "团委"; "市发展和改革委员会",
"发展和改革局", "发改局". This module

* cleans a name as a marking lists it (`clean_names`): page-break spaces go, "等" and collective tails
  ("…等和各省级人民政府") go, a name cut in two by a line wrap inside a table cell ("文化旅游" /
  "体育广电局") is joined when the joined form is printed elsewhere in the document, a place name
  whose suffix the list shares ("邵岗、青铜峡镇党委和政府") gets it back;
* drops collective references (`is_collective`): 各镇, 市直各部门, 成员单位, 有关部门, 驻青区属单位 and
  bare category nouns (街道, 农林场, 物业公司) name no one unit, so they are never expanded;
* reduces a spelling to a key (`unit_key`): locality prefixes (市/县/区, the issuing city's own name,
  中共, 市委 before a party department), and the suffixes that vary for one body (办公室 → 办,
  委员会 → 委, 管委会, 镇党委和政府 → 镇, 街道办事处 → 街道);
* clusters keys (`UnitDirectory`): equal keys; one stem with 局 and 委 (a county's 发展和改革委员会 became
  its 发展和改革局); and abbreviations — "住建局" is the abbreviation of "住房和城乡建设局" because it keeps
  the first and the last character and its characters appear in order in the full name, and no other
  full name takes it ("人社局", "卫健局", "市场监管局", "团委", "爱卫办" likewise);
* resolves what a user types (`UnitDirectory.resolve`) by the same rules, and suggests the closest
  spellings when it names no known unit.

A name in angle or round brackets after another ("市农业农村局〈乡村振兴局〉", "财政局（金融工作局）") is a
second name of the body; the marking names both (qa.tasks records both), the directory keeps each.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

CJK = "\u4e00-\u9fff"
_WS = re.compile(r"\s+")

# Words a unit's name ends with. A fragment that ends otherwise ("文化旅游", "商务和投资") is no name.
UNIT_END = re.compile(
    r"(?:局|委|办|室|部|厅|处|科|院|所|站|队|中心|会|联|团|组|镇|乡|街道|村|社区|场|区|公司|支行|行|厂|馆|校|园|"
    r"政府|党委|党工委|监委|机关|部门|单位|组织|集团|总社|协会|分局|支队|大队|中队|办事处|管委会|委员会|办公室|"
    r"电信|移动|联通)$"
)
# Collective references: they name a class of units, never one unit, and are not expanded.
_COLLECTIVE_START = re.compile(r"^(?:各|全市|全县|全区|全省|全体|所有|有关|相关|其他|其它|市直|县直|区直|区属|驻|其所在|所在地|本级|上级|下级)")
_COLLECTIVE_IN = re.compile(r"成员单位|有关部门|相关部门|有关单位|相关单位|有关方面|各部门|各单位|各级|行业主管|主管单位|等部门|等单位|"
                            r"属单位|直属|(?:承担|实施|建设|使用|所在|主办|申请|责任)单位$|同级")
# Bare category nouns: a kind of unit, not a named one ("街道" in "各镇、街道、农林场").
_CATEGORY = re.compile(
    r"^(?:[市县区]?(?:镇|乡|街道|街道办|社区|村|农林场|镇场|林场|农场|居委会|社区居委会|村委会|村民委员会|物业公司|物业|企业|"
    r"企事业单位|事业单位|人民团体|学校|中小学校|中小学|幼儿园|医院|医疗机构|部门|单位|机关|政府|人民政府|党委|党委和政府|"
    r"镇党委和政府|镇人民政府|街道办事处|供销社|金融机构|银行|保险公司|新闻媒体|媒体|群团组织|办公室|领导小组|工作组|"
    r"指挥部|国务院))$"
)
# Bodies of law: "县级以上地方人民政府" names the government of any county, still one kind of body; but a
# name that is a clause ("对直接负责的主管人员") or carries a verb is no unit.
_NOT_A_NAME = re.compile(r"[，。；;：:、？！“”]|负责|牵头|配合|落实|的$|^的|对$|^对|^由|^在|^和|^及|^与")
_TRAILING = re.compile(r"(?:等(?:部门|单位)?|和|及|与|、)+$")
# "扶贫办、…、全国总工会等和各省级人民政府负责": the named units end at 等 (what follows is collective).
_COLLECTIVE_TAIL = re.compile(r"(?:等和|等及|等|和|及|、)(?=各|有关|相关|其他|其它|所在地|省级|地方)")
_INNER_PAREN = re.compile(r"[（(〈<【][^（）()〈〉<>【】]{1,30}[）)〉>】]")

# Suffix variants of one body, reduced for the key (longest first).
_SUFFIXES = [
    (re.compile(r"^(.{2,}?镇)(?:党委和人民政府|党委和政府|党委政府|人民政府|党委|政府)$"), r"\1"),
    (re.compile(r"^(.{2,}?乡)(?:党委和人民政府|党委和政府|党委政府|人民政府|党委|政府)$"), r"\1"),
    (re.compile(r"^(.{2,}?街道)(?:党工委和办事处|党工委|办事处|办)$"), r"\1"),
    (re.compile(r"^(.{2,}?)(?:管理委员会|管委会)$"), r"\1"),
    (re.compile(r"^(.+?)办公室$"), r"\1办"),
    (re.compile(r"^(.+?)委员会$"), r"\1委"),
]
# 市/县 before what follows is a word of its own, not a prefix: 市场, 市政, 市容, 市民, 市级, 市直, 市区.
_CITY_PREFIX = re.compile(r"^(?:中共)?[市县区](?!场|政(?!府)|容|级|直|区|属|内|外|县|貌|委|$)")
# Another city's name before a unit of its own ("吴忠市生态环境局青铜峡分局"): X市 / X县 + a long name.
_OTHER_CITY = re.compile(rf"^[{CJK}]{{2,3}}[市县州盟](?=[{CJK}]{{4,}})(?!人民政府$|政府$|党委|委员会$|人民代表大会|人大)")
# "市委宣传部" = "宣传部": the party committee's departments; not 市委办/市委办公室 (the committee's office).
_PARTY_PREFIX = re.compile(r"^(?:中共)?(?:[市县区]委)(?=.{2,})(?!办$|办公室$)")
_YOUTH = re.compile(r"^团[市县区]委$")


def spaceless(text: str) -> str:
    return _WS.sub("", text or "")


def localities(issuers: Iterable[str | None]) -> list[str]:
    """Place names of the issuing governments ("青铜峡市人民政府" → 青铜峡市, 青铜峡), longest first:
    a unit of that place is named with or without them ("青铜峡工业园区" = "工业园区")."""
    found: set[str] = set()
    for issuer in issuers:
        for m in re.finditer(rf"(?:中共)?([{CJK}]{{2,6}}?)([市县区旗])(?:委员会|人民政府|委|政府)", spaceless(issuer or "")):
            if m.group(1) in ("人民", "自治"):
                continue
            found.add(m.group(1) + m.group(2))
            if len(m.group(1)) >= 2:
                found.add(m.group(1))
    return sorted(found, key=len, reverse=True)


def is_collective(name: str) -> bool:
    """Whether `name` refers to a class of units (各镇, 市直各部门, 成员单位, 街道, 农林场) rather than one."""
    n = spaceless(name)
    return bool(_COLLECTIVE_START.match(n) or _COLLECTIVE_IN.search(n) or _CATEGORY.match(n))


def _clean_one(name: str) -> str:
    n = spaceless(name).strip("。．.，,；;：:、·")
    cut = _COLLECTIVE_TAIL.search(n)
    if cut and cut.start() >= 2:
        n = n[: cut.start()]
    n = _TRAILING.sub("", n)
    return n


def clean_names(names: Iterable[str], text: str = "") -> list[str]:
    """The named units of a list as a marking gives it, in order: cleaned, repaired, collectives dropped.

    `text` is the document's text without whitespace (`spaceless`): a fragment is joined with the next
    one only when the joined form is printed in it ("文化旅游" + "体育广电局"), so two real units next
    to each other stay apart.
    """
    pieces = [_clean_one(n) for n in names]
    pieces = [p for p in pieces if p]
    flat = text
    out: list[str] = []
    i = 0
    while i < len(pieces):
        p = pieces[i]
        nxt = pieces[i + 1] if i + 1 < len(pieces) else None
        if nxt is not None and not UNIT_END.search(p):
            joined = p + nxt
            if joined in flat:  # a line wrap inside a cell: one name in two pieces
                out.append(joined)
                i += 2
                continue
            # "邵岗、青铜峡镇党委和政府": the first place shares the second's suffix
            m = re.match(rf"^[{CJK}]{{2,4}}?(镇|乡|街道)(.*)$", nxt)
            if m and len(p) <= 4 and (p + m.group(1)) in flat:
                out.append(p + m.group(1) + m.group(2))
                i += 1
                continue
        out.append(p)
        i += 1
    return [p for p in dict.fromkeys(out) if is_name(p)]


def is_name(name: str) -> bool:
    """A cleaned spelling that names one unit (not a collective, not a clause)."""
    return 2 <= len(name) <= 30 and bool(UNIT_END.search(name)) and not is_collective(name) \
        and not _NOT_A_NAME.search(name)


def unit_key(name: str, places: Iterable[str] = ()) -> str:
    """The spelling reduced to what identifies the unit: no locality prefix, no suffix variant."""
    n = _INNER_PAREN.sub("", spaceless(name)) or spaceless(name)
    if _YOUTH.match(n):
        return "团委"
    for place in places:
        # not when the place name is part of a town's name ("青铜峡镇")
        if n.startswith(place) and len(n) - len(place) >= 2 and not re.match(r"[镇乡市县区]|街道", n[len(place):]):
            n = n[len(place):]
            break
    n = _PARTY_PREFIX.sub("", n, count=1)
    if not _CITY_PREFIX.match(n):
        n = _OTHER_CITY.sub("", n, count=1)
    if len(n) >= 3:
        n = _CITY_PREFIX.sub("", n, count=1)
    for pattern, repl in _SUFFIXES:
        reduced = pattern.sub(repl, n)
        if reduced != n and len(reduced) >= 2:
            n = reduced
            break
    return n


def is_abbreviation(short: str, full: str) -> bool:
    """Whether key `short` abbreviates key `full`: same first and last character, its characters in
    order inside `full`, shorter ("住建局" / "住房和城乡建设局", "团委" / "团市委", "爱卫办" / "爱卫会办")."""
    if len(short) < 2 or len(short) >= len(full) or short[0] != full[0] or short[-1] != full[-1]:
        return False
    it = iter(full)
    return all(ch in it for ch in short)


@dataclass
class Unit:
    """One unit of the directory: a canonical name and every spelling the documents use for it."""

    uid: int
    name: str
    aliases: list[str]  # the other spellings, most used first
    keys: set[str] = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)


class UnitDirectory:
    """Clusters of spellings; `resolve` maps what a user types onto one unit (or None)."""

    def __init__(self, spellings: Iterable[str], places: Iterable[str] = (),
                 aka: Iterable[tuple[str, str]] = ()) -> None:
        """`spellings`: every unit name of every marking (repeats count); `places`: the issuers'
        localities; `aka`: (name, second name) pairs of "X〈Y〉" / "X（Y）", one per such marking."""
        self.places = [p for p in places if p]
        counts = Counter(spaceless(s) for s in spellings if spaceless(s))
        aka = [(spaceless(a), spaceless(b)) for a, b in aka if spaceless(a) and spaceless(b)]
        by_key: dict[str, Counter] = defaultdict(Counter)
        for s, c in counts.items():
            by_key[unit_key(s, self.places)][s] += c
        keys = sorted(by_key, key=lambda k: (-len(k), k))
        parent = {k: k for k in keys}

        def find(k: str) -> str:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                # the longer key (the full name) represents the cluster
                keep, drop = (ra, rb) if (len(ra), ra) >= (len(rb), rb) else (rb, ra)
                parent[drop] = keep

        # one stem with 局 and 委: the same body before and after a county's reform
        stems: dict[str, list[str]] = defaultdict(list)
        for k in keys:
            if len(k) >= 3 and k[-1] in "局委":
                stems[k[:-1]].append(k)
        for same in stems.values():
            for other in same[1:]:
                union(same[0], other)
        # abbreviations: a shorter key that abbreviates exactly one cluster joins it
        by_ends: dict[tuple[str, str], list[str]] = defaultdict(list)
        for k in keys:
            by_ends[(k[0], k[-1])].append(k)
        for k in keys:
            longer = [f for f in by_ends[(k[0], k[-1])] if is_abbreviation(k, f)]
            roots = {find(f) for f in longer}
            if len(roots) == 1:
                union(k, longer[0])
        # a second name never used on its own is that body's other name ("财政局（金融工作局）"); one also
        # used on its own is a unit of its own that the marking names too ("农业农村局〈乡村振兴局〉")
        in_brackets = Counter(unit_key(b, self.places) for _, b in aka)
        self._second_names: set[str] = set()
        for a, b in aka:
            ka, kb = unit_key(a, self.places), unit_key(b, self.places)
            if ka in parent and kb in parent and sum(by_key[kb].values()) <= in_brackets[kb]:
                union(ka, kb)
                self._second_names.update(by_key[kb])
        clusters: dict[str, list[str]] = defaultdict(list)
        for k in keys:
            clusters[find(k)].append(k)
        self.units: list[Unit] = []
        self._by_spelling: dict[str, int] = {}
        self._by_key: dict[str, int] = {}
        for root in sorted(clusters, key=lambda r: (-sum(sum(by_key[k].values()) for k in clusters[r]), r)):
            cnt: Counter = Counter()
            for k in clusters[root]:
                cnt.update(by_key[k])
            name = self._canonical(cnt)
            uid = len(self.units)
            aliases = [s for s, _ in sorted(cnt.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0])) if s != name]
            unit = Unit(uid, name, aliases, set(clusters[root]), cnt)
            self.units.append(unit)
            for s in cnt:
                self._by_spelling[s] = uid
            for k in clusters[root]:
                self._by_key[k] = uid

    def _canonical(self, counts: Counter) -> str:
        """The fullest spelling: longest key, then the official form with its 市/县 prefix, then most used."""
        def rank(s: str) -> tuple:
            key = unit_key(s, self.places)
            official = bool(re.match(r"^[市县区](?!场|政(?!府))", s))  # with its 市/县 prefix
            return (s not in self._second_names, not _INNER_PAREN.search(s), len(key), official, len(s), counts[s], s)
        best = max(counts, key=rank)
        key = unit_key(best, self.places)
        # a town is called by its name ("小坝镇"), not by its committee and government
        return key if re.search(r"[镇乡]$", key) and key != best else best

    def __len__(self) -> int:
        return len(self.units)

    def uid_of(self, spelling: str) -> int | None:
        """The unit of a spelling found in the documents (exact, or by its key)."""
        s = spaceless(spelling)
        uid = self._by_spelling.get(s)
        if uid is None:
            uid = self._by_key.get(unit_key(s, self.places))
        return uid

    def resolve(self, text: str) -> Unit | None:
        """The unit a user means by `text`: a spelling, a key, or an abbreviation of exactly one unit
        (or a fuller form of exactly one unit's abbreviation)."""
        s = _INNER_PAREN.sub("", spaceless(text)).strip("？?。，,：:")
        if not s:
            return None
        uid = self.uid_of(s)
        if uid is not None:
            return self.units[uid]
        key = unit_key(s, self.places)
        found = {self._by_key[k] for k in self._by_key if is_abbreviation(key, k) or is_abbreviation(k, key)}
        if len(found) == 1:
            return self.units[found.pop()]
        return None

    def suggestions(self, text: str, n: int = 5) -> list[str]:
        """The known spellings closest to `text` (for an error message)."""
        s = spaceless(text)
        spellings = list(self._by_spelling)
        close = difflib.get_close_matches(s, spellings, n=n, cutoff=0.4)
        if len(close) < n:  # spellings sharing characters with it, most shared first
            chars = set(s) - set("市县区局委办")
            scored = sorted(((len(chars & set(sp)), sp) for sp in spellings if chars & set(sp)),
                            key=lambda t: (-t[0], t[1]))
            close += [sp for _, sp in scored if sp not in close][: n - len(close)]
        return close

    def as_list(self) -> list[dict]:
        return [{"name": u.name, "aliases": u.aliases} for u in self.units]
