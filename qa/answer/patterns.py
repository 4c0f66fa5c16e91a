"""The text patterns of the answer layer, in one place: 文号, 令号, figures with their measures, sums of
money, dates, years, clock times and personal names as government documents print them.

Question patterns (what a question asks for) live in `qa.answer.analysis`; these describe what a
passage says.
"""
from __future__ import annotations

import re

# 文号: "青党发〔2021〕16号" (the readers accept more bracket forms; passages shown to the answer layer
# have them canonical or nearly so).
DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,8}〔\s*\d{4}\s*〕\s*\d+\s*号")
# 令号 as printed in a law's header: "中华人民共和国国务院令第N号发布", "第十二号主席令".
DECREE_NUMBER = re.compile(
    r"(?:[\u4e00-\u9fa5]{0,12}令\s*第\s*[\d〇零一二两三四五六七八九十百千]+\s*号|第\s*[\d〇零一二两三四五六七八九十百千]+\s*号[\u4e00-\u9fa5]{0,8}令)"
)
# The events of a law's life that the text dates: "本条例自YYYY年M月D日起施行", "YYYY年M月D日 国务院
# 第N次常务会议通过", "YYYY年M月D日 中华人民共和国国务院令第N号公布".
LAW_EVENT = re.compile(r"施行|生效|公布|通过|发布")
EVENT_DATE = (r"(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|[〇零一二三四五六七八九]{4}年[〇零一二三四五六七八九十]{1,2}月"
              r"[〇零一二三四五六七八九十]{1,3}日)")

CN_NUM = "零〇一二两三四五六七八九十百千万亿"
CN_DIGIT = "〇零一二三四五六七八九"
# Measures, longer forms first (a regex alternation takes the first that matches: "个月" before "个").
MEASURES = (
    "平方公里|平方千米|平方米|立方米|公里|千米|公顷|厘米|毫米|公斤|千克|万元|亿元|个工作日|工作日|个月|小时|分钟|周岁"
    "|个|家|年|名|张|座|所|项|户|次|倍|成|万|亿|元|人|亩|辆|台|处|条|间|件|天|月|日|周|米|吨|头|只|场|部|期|批"
    "|类|级|套|层|份|棵|株|枚|岁|页"
)
# A proportion written out: 百分之八十, 三分之二, 千分之五.
PROPORTION = rf"(?:百分之|千分之|[{CN_NUM}\d]+分之)[{CN_NUM}\d.]+"
# A figure: a proportion, digits (with % etc.), or Chinese numerals only before a measure ("三十日",
# "二百元", "二至三株"; "两个", but not "两不愁").
NUMBER = re.compile(rf"{PROPORTION}|\d+(?:\.\d+)?\s*(?:%|％|‰)?|[{CN_NUM}]+\s*(?:{MEASURES})")
DATE = re.compile(
    r"\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*(?:\d{1,2}\s*日|底|初|末|中旬|上旬|下旬)?"
    rf"|[{CN_DIGIT}]{{4}}年(?:[{CN_DIGIT}十]{{1,2}}月(?:[{CN_DIGIT}十]{{1,3}}日)?)?"
    r"|\d{4}-\d{1,2}-\d{1,2}|年底|年内|年末|月底|上半年|下半年|[春夏秋冬]季|第[一二三四]季度"
)
YEAR_ONLY = re.compile(r"\d{4}\s*年")
# A calendar year in text or question: "2021年", "2021 年", "2021—2025年" (both ends), "二〇二一年".
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_CN_YEAR = re.compile(rf"([{CN_DIGIT}]{{4}})\s*年")
# Measures that name the same thing: a question's 天 is answered by the text's 日 ("三十日前").
SAME_MEASURE = [
    {"天", "日", "工作日", "个工作日"}, {"月", "个月"}, {"公里", "千米"}, {"平方公里", "平方千米"},
    {"公斤", "千克"}, {"岁", "周岁"},
]
TIME_MEASURES = ("年", "个月", "月", "周", "日", "天", "工作日", "个工作日", "小时", "分钟")
# A sum of money may be stated as a share or multiple of another sum (工资的百分之八十, 货值金额一倍以上
# 三倍以下的罚款): in legal text that is how most fines and benefits are fixed.
MONEY_FIGURE = re.compile(rf"(?:\d|[{CN_NUM}])\s*(?:万|亿)?\s*元|{PROPORTION}|[\d{CN_NUM}]+\s*倍|\d\s*[%％]")
# A telephone number as printed: "（0953）3050582", "010-12345678", "12345", "400-810-5678".
PHONE_NUMBER = re.compile(r"(?:[（(]\s*0\d{2,3}\s*[)）]|0\d{2,3}\s*[-－—])?\s*\d{7,8}(?!\d)|(?<!\d)(?:12\d{3}|400[-－]?\d{3}[-－]?\d{4}|1[3-9]\d{9})(?!\d)")
CLOCK_TIME = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|[\d〇一二三四五六七八九十]{1,3}\s*[点时](?:\s*\d{1,2}\s*分|半)?")

# A personal name as printed in member lists: two to four Han characters, sometimes spaced ("王 浩").
PERSON_NAME = r"[\u4e00-\u9fa5](?:[ \u3000]?[\u4e00-\u9fa5]){1,3}"
# Titles that follow a name in a member list ("市委副书记、政府代市长", "市住房和城乡建设局局长").
TITLE_END = re.compile(
    r"(?:书记|总理|国务委员|市长|县长|镇长|乡长|区长|主席|主任|局长|部长|委员|常委|秘书长|院长|校长|所长|站长|队长|行长|经理|组长|"
    r"指挥|科长|处长|厅长|司长|总监|馆长|台长|社长|会长|理事长|检察长|庭长|政委|参谋长|干事|专员|调研员)"
)
_CN_DIGIT_VALUE = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}


def years_in(text: str) -> set[int]:
    """Calendar years a text names ("2021年", "2021-2025年", "二〇二一年"); plain numbers such as 2100元
    are not years unless followed by 年 or written as a span."""
    out: set[int] = set()
    for m in _YEAR.finditer(text):
        after = text[m.end():m.end() + 3].lstrip()
        before = text[max(0, m.start() - 1):m.start()]
        if after.startswith(("年", "—", "-", "–", "～", "~", "至")) or before in ("—", "-", "–", "～", "~", "至"):
            out.add(int(m.group(1)))
    for m in _CN_YEAR.finditer(text):
        out.add(int("".join(str(_CN_DIGIT_VALUE[c]) for c in m.group(1))))
    return out
