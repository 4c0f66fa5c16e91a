"""Question analysis: the one module that knows the question patterns.

`analyse(question)` says what kind of answer is expected — a unit, a person, a figure with its measure,
a date (of an event, or of a document), a document field, a yes/no rule, a passage — and what the
question pins down: years, places, named bodies, the role asked (牵头 / 配合 / 责任), the duty asked
(主管, 制定, 认定…), the person's role (总指挥, 组长…). Every later stage reads this record; none of them
re-parses the question for these things.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .patterns import DOC_NUMBER, MEASURES, SAME_MEASURE, TIME_MEASURES, years_in

# Questions about a document itself.
_DOC_ABOUT = re.compile(
    r"什么文件|哪份文件|哪个文件|哪一份文件|哪份通知|哪个通知|文件名|标题|文号|发文字号|发文机关|发文单位|印发单位"
    r"|谁印发|谁发布|谁发的|哪个单位印发|哪些单位印发|联合印发|(?:哪天|哪一天|什么时候|何时|哪年|几号|哪月|啥时候|什么日期)(?:印发|发布|下发|出台|发文)"
    r"|(?:印发|发布|发文|成文|下发)(?:日期|时间)|(?:印发|发布|下发)的?(?:吗|呢)?$"
    # laws and regulations: the 令号 they were promulgated by, the day they took effect
    r"|第几号|令号|几号令|(?:国务院|主席|政府)令|哪号令"
    r"|(?:哪天|哪一天|什么时候|何时|哪年|几号|哪月|啥时候|什么日期|什么时间)起?(?:开始)?(?:施行|生效|公布|通过)"
    r"|(?:施行|生效|公布|通过)(?:日期|时间)"
)
DECREE_Q = re.compile(r"第几号|令号|几号令|(?:国务院|主席|政府)令|哪号令")
_DATE_Q = re.compile(
    r"什么时候|什么时间|何时|哪天|哪一天|哪年|哪一年|几月|几号|几日|啥时候|时限|截止|期限|之前|多久完成|哪个月|哪个季度|起止|到几号"
)
_NUMBER_Q = re.compile(r"多少|(?<!哪)几|比例|百分之|比重|达到|目标|多大|多长|多高|多远|多重|占比|增长|下降|上限|下限|最多|最少|不低于|不超过")
_UNIT_Q_STRONG = re.compile(
    r"(?:哪个|哪些|哪家|什么|哪一个|哪几个)(?:部门|单位|机构|机关|科室)|哪一?级(?:人民)?政府|由谁|谁(?:牵头|负责|来|管|抓)|归哪|找哪|哪里管|哪儿管|牵头单位|责任单位|配合单位|牵头部门|配合部门"
)
_UNIT_Q_WEAK = re.compile(r"牵头|负责|配合|协办|包抓|主管|谁")
# A person is asked for: "…是谁", "谁担任…", "叫什么名字", "哪位领导"; but "谁牵头/谁负责/谁来管" ask for a unit.
_PERSON_Q_STRONG = re.compile(r"谁担任|由谁担任|什么人担任|叫什么名字|姓名|哪位领导|哪位同志|哪位负责人|谁兼任")
_PERSON_Q = re.compile(r"是谁|谁是|谁任|哪位")
_UNIT_VERB = re.compile(r"牵头|负责|配合|协办|主管|管理|承担|落实|办理|审批|监管|部门|单位|机构|机关")
# Roles a person holds in a member list or an office.
PERSON_ROLES = (
    "副总指挥", "总指挥", "常务副组长", "副组长", "组长", "副主任", "主任", "成员", "责任领导", "联系人", "负责人",
    "副市长", "代市长", "市长", "副县长", "县长", "副书记", "书记", "局长", "副局长", "部长", "秘书长", "会长", "法定代表人",
    "副召集人", "召集人", "副主编", "主编",
)
_PERSON_ROLE = re.compile("|".join(sorted(map(re.escape, PERSON_ROLES), key=len, reverse=True)))
# The measure a "多少/几" question asks for: 多少公里 → 公里; 百分之几/比例 → %.
_Q_MEASURE = re.compile(rf"(?:多少|几)\s*({MEASURES})")
# "多长时间/多久" asks for a duration in any unit of time.
_DURATION_Q = re.compile(r"多长时间|多久|多少时间|多长(?:的)?期限|期限(?:是)?多长|多长时限")
# A question about an amount of money wants a figure in 元.
MONEY_Q = re.compile(
    r"多少钱|(?:经费|资金|费用|罚款|罚金|收费|补助|补贴|工资|报酬|奖励|投资|预算)[^，。？?]{0,6}多少"
    r"|多少[^，。？?]{0,6}(?:经费|资金|费用|罚款|钱|元)"
)
# The same, as the abstention rule read it: a named fee (学费、挂号费…是多少) too.
MONEY_ASKED = re.compile(
    r"多少钱|收费|收多少|(?:经费|资金|费用|罚款|罚金|补助|补贴|工资|报酬|奖励|投资|预算)[^，。？?]{0,6}多少"
    r"|[\u4e00-\u9fa5]费[^，。？?]{0,4}(?:多少|几)"
    r"|多少[^，。？?]{0,6}(?:经费|资金|费用|罚款|钱)"
)
PERCENT_Q = re.compile(r"百分之|比例|比率|比重|占比|率")
# a time of day (几点开门) is answered by a clock time, not by any figure
CLOCK_ASKED = re.compile(r"几点|几时")
# a telephone number (电话是多少, 热线号码) is answered by a number that dials, not by a count
PHONE_ASKED = re.compile(r"(?:电话|热线|号码|手机|传真)[^，。？?]{0,6}(?:多少|是什么|是几|几号)|(?:打|拨)(?:哪个|什么|多少)")
# Yes/no questions: "…要收费吗？", "是否需要…", "能不能…".
_YES_NO_Q = re.compile(r"[吗么][？?\s]*$|是否|要不要|能不能|可不可以|会不会|用不用|需不需要|是不是|可否|能否")
# Whether something costs money is asked with words of its own.
COST_Q = re.compile(r"收费|费用|付费|交费|缴费|花钱|要钱|收钱|免费")
_PLURAL = re.compile(r"哪些|哪几个|都有|分别")
# Places a question may pin down: towns, streets, villages, communities (小坝镇, 裕民街道, 某某村).
_PLACE = re.compile(r"[\u4e00-\u9fa5]{2,4}?(?:镇|乡|街道|村|社区|林场|农场)(?![\u4e00-\u9fa5]{0,1}(?:长|委|党委|政府))")
# Bodies a question names: "市住建局", "水务局", "卫生健康委员会", "民政部门".
_BODY = re.compile(r"[\u4e00-\u9fa5]{1,12}?(?:局|委员会|委|办公室|办|中心|部门|分局|大队|支队|队|院|所|站)(?=[的是在要和与、，。？?牵负配]|$)")
# Characters that end the word before a place name ("2023年小坝镇", "在裕民街道"), not part of it.
_LEADING_FUNCTION = re.compile(r"^[年月日的在和与及对给向从把被由将是为要里内]+")
_EVENT_WORDS = re.compile(r"召开|举办|开展|举行|启动|完成|开工|竣工|建成|验收|评选|检查|复审|考核|申报|报送|截止|上报")
_ROLE_COOP = re.compile(r"配合|协办|协助|参与|还有哪些|其他.*?(?:部门|单位)")
_ROLE_RESP = re.compile(r"责任单位|责任部门")


# Where a figure or date question asks: "举报电话是多少", "最多能有多少学生", "什么时候建成发电".
_ASK_FIGURE = re.compile(
    r"多少|几(?![乎])|什么时候|什么时间|何时|哪天|哪一天|哪年|哪一年|哪个月|几月|几号|啥时候|多大|多长|多高|多远|多久|多重")
# Words between the measured thing and the asking word that say how it is asked, not what is measured.
_ASK_FILLER = re.compile(
    r"不能少于|不少于|不低于|不超过|不高于|不能超过|达到|控制在|最多|最少|至少|最高|最低|一般|大概|大约|具体|一共|总共|准备"
    r"|计划|打算|可以|需要|要求|标准|目标|规模|数量|情况|以后|之后|[的是要能可需有为在约共按]")
_HAN_RUN = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9.]+")


def quantity_phrases(question: str) -> tuple[str, ...]:
    """What a figure or date question measures: the words just before the asking word ("举报电话" of
    "举报电话是多少", "保洁时间" of "保洁时间不能少于多少") and the noun right after it ("学生" of
    "最多能有多少学生", "建成发电" of "什么时候建成发电"). Verification looks for them next to the answer:
    a figure of something else in the same passage does not answer."""
    q = _compact(question)
    m = _ASK_FIGURE.search(q)
    if not m:
        return ()
    out = []
    before = _HAN_RUN.findall(q[:m.start()])
    if before:
        head = _ASK_FILLER.sub("", before[-1])
        if len(head) >= 2:
            out.append(head[-6:])
    after = q[m.end():]
    measure = re.match(rf"(?:{MEASURES})", after)
    after = after[measure.end():] if measure else after
    tail = re.match(r"[\u4e00-\u9fa5]{2,4}?(?=[的吗呢了？?，,。]|$)|[\u4e00-\u9fa5]{2,4}", after)
    if tail and not re.fullmatch(r"(?:[吗呢了啊呀吧]|以上|以下|以内|左右|之前|前|后|为止|完成)+.*", tail.group(0)):
        out.append(tail.group(0))
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class QuestionAnalysis:
    """What a question asks for and what it pins down."""

    question: str
    expected: str  # "lead_unit" | "person" | "number" | "date" | "document" | "passage"
    role: str = "lead"  # for unit questions: "lead" | "cooperating" | "responsible"
    plural: bool = False
    yes_no: bool = False
    years: frozenset[int] = frozenset()
    places: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()  # measures a figure question asks for (with synonyms)
    money: bool = False
    percent: bool = False
    clock: bool = False
    phone: bool = False
    person_role: str | None = None
    doc_number: str | None = None
    asks_event_date: bool = False  # a date question about something that happens, not a document's date
    quantity: tuple[str, ...] = ()  # what a figure / date question measures (`quantity_phrases`)
    flags: dict = field(default_factory=dict, compare=False)


def _compact(question: str) -> str:
    return re.sub(r"\s", "", question)


def classify_question(question: str) -> str:
    """Expected answer type: "document" | "person" | "task_list" | "date" | "number" | "lead_unit" | "passage"."""
    q = _compact(question)
    if _DOC_ABOUT.search(q):
        return "document"
    # A question naming a 文号 is about that document, unless it asks who leads / what figure inside it.
    if DOC_NUMBER.search(q) and not re.search(r"牵头|负责|配合|多少|几|比例|达到", q) and re.search(
        r"什么|哪天|何时|谁|哪个|哪家|哪些|日期|时间|名称|题目|印发|发布", q
    ):
        return "document"
    if is_person_question(q):
        return "person"
    if unit_task_question(q):
        return "task_list"
    if _UNIT_Q_STRONG.search(q):
        return "lead_unit"
    if _DATE_Q.search(q):
        return "date"
    if _NUMBER_Q.search(q):
        return "number"
    if _UNIT_Q_WEAK.search(q):
        return "lead_unit"
    return "passage"


def is_person_question(question: str) -> bool:
    """Whether a person (a name) is asked for: "指挥部总指挥是谁？", "市长是谁", "谁担任组长？".
    "谁牵头 / 由谁负责 / 谁是牵头单位" ask for a unit instead."""
    q = _compact(question)
    if _PERSON_Q_STRONG.search(q):
        return True
    if not _PERSON_Q.search(q):
        return False
    if _PERSON_ROLE.search(q):
        return True
    return not _UNIT_VERB.search(q)


def requested_role(question: str) -> str:
    """Which units a unit question asks for: "cooperating" (配合), "responsible" (责任) or "lead"."""
    if _ROLE_COOP.search(question):
        return "cooperating"
    if _ROLE_RESP.search(question):
        return "responsible"
    return "lead"


def is_yes_no(question: str) -> bool:
    return bool(_YES_NO_Q.search(_compact(question)))


def asked_measures(question: str) -> tuple[str, ...]:
    """The measures a figure question asks for (with their synonyms), or () when it names none."""
    if MONEY_Q.search(question):
        return ("元",)
    if _DURATION_Q.search(question):
        return TIME_MEASURES
    m = _Q_MEASURE.search(question)
    if not m:
        return ()
    same = next((group for group in SAME_MEASURE if m.group(1) in group), {m.group(1)})
    return tuple(sorted(same, key=len, reverse=True))


def _strip_question_words(q: str) -> str:
    return re.sub(r"哪个|哪些|哪家|什么|哪一个|哪几个|谁", "", q)


def analyse(question: str) -> QuestionAnalysis:
    """The full record of what the question asks for and what it pins down."""
    q = _compact(question)
    expected = classify_question(q)
    measures = asked_measures(q) if expected == "number" else ()
    person_role = None
    if expected == "person":
        m = _PERSON_ROLE.search(q)
        person_role = m.group(0) if m else None
    stripped = _strip_question_words(q)
    places = tuple(dict.fromkeys(p for p in (_LEADING_FUNCTION.sub("", m.group(0)) for m in _PLACE.finditer(stripped))
                                 if len(p) >= 3))
    bodies = tuple(dict.fromkeys(m.group(0) for m in _BODY.finditer(stripped)
                                 if not re.fullmatch(r"(?:哪个|哪些|什么|有关|相关|主管|牵头|责任|配合)?部门", m.group(0))))
    number = DOC_NUMBER.search(q)
    return QuestionAnalysis(
        question=question,
        expected=expected,
        role=requested_role(q),
        plural=bool(_PLURAL.search(q)),
        yes_no=expected == "passage" and is_yes_no(q),
        years=frozenset(years_in(q)),
        places=places,
        bodies=bodies,
        measures=measures,
        money=bool(MONEY_ASKED.search(q)) and not is_yes_no(q),
        percent=expected == "number" and bool(PERCENT_Q.search(q)),
        clock=bool(CLOCK_ASKED.search(q)),
        phone=bool(PHONE_ASKED.search(q)),
        person_role=person_role,
        doc_number=re.sub(r"\s", "", number.group(0)) if number else None,
        asks_event_date=expected == "date" and bool(_EVENT_WORDS.search(q)),
        quantity=quantity_phrases(q) if expected in ("number", "date") else (),
    )


# --- unit → tasks questions: "市住建局牵头哪些工作？", "小坝镇要配合做哪些事？" ----------------------------
#
# The question names a unit as its subject and asks for a list of work. The service answers it from the
# task registry (qa.tasks) when it knows the unit; otherwise it goes through the pipeline like any other.
_TASKS_ASKED = re.compile(
    r"(?:哪些|什么|哪几项|哪几个|几项|多少项|啥)(?:具体)?(?:工作|任务|事情|事项|事|项目|职责|活)"
    r"|(?:工作|任务|事情|事项|职责)(?:都)?(?:有|是|包括)(?:哪些|什么|啥)"
    r"|(?:做|干|管)(?:些)?(?:什么|啥|哪些)"
    r"|(?:负责|牵头|配合|参与|承担)(?:了)?(?:些)?(?:什么|啥|哪些)[？?。！!]*$"
    r"|^(?:请)?(?:列出|列举|梳理|汇总)"
)
# A subject that asks ("哪个部门", "由谁") or runs over a clause is no unit.
_NOT_SUBJECT = re.compile(r"哪|谁|什么|由|归|[，,。；;：:]")
# "哪些工作由市住建局牵头？": the unit after 由, the question word first.
_TASKS_BY = re.compile(
    r"^(?:请问)?(?:有)?(?:哪些|什么|哪几项)(?:工作|任务|事情|事项|事)(?:是|要|需要|都|应)?由"
    r"(?P<unit>[\u4e00-\u9fa5（）()〈〉]{2,30}?)(?:来)?(?=牵头|负责|配合|参与|承担|协助|协办)"
)
# The unit is the subject: what comes before the verb of the role (or the question word).
_ASKER = re.compile(r"^(?:请问|请教|我想知道|想知道|想问一下|想问|查询|查一下|问一下|请列出|请列举|列出|列举|请梳理|梳理|"
                    r"汇总)?[，,：:]?")
_AFTER_SUBJECT = re.compile(
    r"(?:在|要|需要|都|还|主要|作为|是|有|该|应当|应|将|会|具体|一共|总共|共|的)?"
    r"(?:牵头|负责|配合|参与|承担|协助|协办|协同|分管|主管|做|干|管|在哪些|是哪些|有哪些|哪些|工作|任务|事情|事项|职责)"
)
_ASKED_LEAD = re.compile(r"牵头|主抓|领办|挂帅")
_ASKED_SUPPORT = re.compile(r"配合|协助|协办|协同|责任单位|责任部门")


@dataclass(frozen=True)
class UnitTaskQuestion:
    """A question that asks what a unit does: the unit as written and the role asked (口径 of qa.tasks):
    "lead" (牵头), "support" (配合 / 协助 / 责任单位), "any" (负责, 参与, 承担, 做: either)."""

    unit: str
    role: str


def unit_task_question(question: str) -> UnitTaskQuestion | None:
    """The unit and role of a unit → tasks question, or None for any other question."""
    from qa.unit_names import UNIT_END, is_collective

    q = _compact(question)
    by = _TASKS_BY.match(q)
    if by and UNIT_END.search(by.group("unit")):
        rest = q[by.end("unit"):]
    elif not _TASKS_ASKED.search(q):
        return None
    else:
        by = None
    if by is not None:
        if is_collective(by.group("unit")) or _NOT_SUBJECT.search(by.group("unit")):
            return None
        lead, support = bool(_ASKED_LEAD.search(rest)), bool(_ASKED_SUPPORT.search(rest))
        role = "lead" if lead and not support else "support" if support and not lead else "any"
        return UnitTaskQuestion(unit=by.group("unit"), role=role)
    start = _ASKER.match(q).end()
    for end in range(start + 2, min(len(q), start + 30) + 1):
        unit = q[start:end]
        # the shortest subject that names a unit and is followed by the role's verb
        if _NOT_SUBJECT.search(unit):
            return None
        if UNIT_END.search(re.sub(r"[（(〈][^）)〉]*[）)〉]$", "", unit)) and _AFTER_SUBJECT.match(q, end):
            break
    else:
        return None  # "黄河滩区治理工程包括哪些工作" asks about a task, not a unit
    if is_collective(unit):
        return None  # "各镇要做哪些工作": no one unit to list the tasks of
    rest = q[end:]
    lead, support = bool(_ASKED_LEAD.search(rest)), bool(_ASKED_SUPPORT.search(rest))
    role = "lead" if lead and not support else "support" if support and not lead else "any"
    return UnitTaskQuestion(unit=unit, role=role)
