"""Unit attribution on real snippets of the 青铜峡市人民政府公报 (2021 第2期), one per marking style."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from qa.units import find_unit_annotations, split_unit_list, units_for_span  # noqa: E402

# 青党发〔2021〕16号 item 9: three inline annotations, each closing the sentences since the previous one.
ITEM_9 = (
    "9. 完善养老保障和儿童关爱服务。实施“银发无忧”工程，完善城乡居民基本养老保险费代缴政策，按最低缴费档次为"
    "参加城乡居民养老保险的低保对象、特困人员、返贫致贫人口、重度残疾人等困难群体代缴部分或全部保费。在提高城乡"
    "居民养老保险缴费档次时，对上述困难群体和其他已脱贫人口保留现行最低缴费档次（市人力资源和社会保障局负责）。"
    "持续加大市镇两级养老机构对失能、部分失能特困老年人的兜底保障力度，强化对孤儿、事实无人抚养儿童等兜底保障。"
    "充分发挥老饭桌等为老服务基础设施作用，支持发展农村互助养老、多元托养托育服务，建立老年人意外伤害保险保障机制，"
    "全面落实农村留守儿童、妇女、老年人关爱服务政策（市民政局、妇联负责）。加强残疾人士托养服务、康复服务供给，"
    "动态调整“两项补贴”，确保残疾人士政策保障到位（市残联负责）。"
)


def _leads(text: str, kind: str | None = None) -> list[list[str]]:
    return [a.lead for a in find_unit_annotations(text, kind)]


def test_inline_annotations_close_the_sentences_since_the_previous_one():
    anns = find_unit_annotations(ITEM_9)
    assert [a.lead for a in anns] == [["市人力资源和社会保障局"], ["市民政局", "妇联"], ["市残联"]]
    assert all(a.style == "inline" for a in anns)
    middle = anns[1]
    task = ITEM_9[middle.start:middle.end]
    assert task.startswith("持续加大市镇两级养老机构")  # starts after the first annotation's "）。"
    assert task.endswith("老年人关爱服务政策")  # ends where the marking begins
    assert middle.lead_text == "市民政局、妇联"
    assert middle.lead_explicit is False  # "X负责": the responsible units lead, no 牵头 marker


def test_units_for_span_picks_the_annotation_of_the_middle_task():
    pos = ITEM_9.index("事实无人抚养儿童")
    att = units_for_span(ITEM_9, pos, pos + 8)
    assert att is not None and att.exact
    assert att.annotation.lead == ["市民政局", "妇联"]
    first = ITEM_9.index("银发无忧")
    assert units_for_span(ITEM_9, first, first + 4).annotation.lead == ["市人力资源和社会保障局"]
    last = ITEM_9.index("两项补贴")
    assert units_for_span(ITEM_9, last, last + 4).annotation.lead == ["市残联"]


def test_bracketed_alias_gives_main_name_and_alias():
    text = (
        "10. 集中支持乡村振兴重点帮扶村。落实自治区乡村振兴重点帮扶村政策，对同兴、同进、同富、同乐等乡村振兴重点帮扶村"
        "（移民安置区），支持集中解决产业、就业、基础设施和公共服务等问题。（市农业农村局〈乡村振兴局〉牵头）"
    )
    anns = find_unit_annotations(text)
    assert len(anns) == 1  # "（移民安置区）" is not a marking
    assert anns[0].lead == ["市农业农村局"]
    assert anns[0].aliases == {"市农业农村局": ["乡村振兴局"]}
    assert anns[0].lead_explicit


def test_lead_then_responsible_combination_on_its_own_line():
    text = (
        "实施农村供热扩面提升工程，利用电厂余热、天然气、太阳能光伏、生物质成型燃料等模式，率先在峡口赵汉新村、"
        "青铜峡镇同兴村等7个村实施农村清洁供暖工程，争创全国分布式光伏能源供热示范点。\n"
        "（市农业农村局牵头，市发展和改革委员会、住房和城乡建设局负责）"
    )
    (ann,) = find_unit_annotations(text)
    assert ann.lead == ["市农业农村局"]
    assert ann.supporting == ["市发展和改革委员会", "住房和城乡建设局"]
    assert ann.responsible == ["市发展和改革委员会", "住房和城乡建设局"]
    assert text[ann.start:ann.end].endswith("供热示范点")


def test_lead_then_responsible_for_implementation_whole_unit_names():
    text = (
        "完善政府公报数据库，推进数字利用，通过政务新媒体等渠道加强政府公报内容传播。（市政府办公室牵头，各镇人民政府、"
        "裕民街道办事处、农林场，市直各部门单位负责落实）"
    )
    (ann,) = find_unit_annotations(text)
    assert ann.lead == ["市政府办公室"]
    assert ann.supporting == ["各镇人民政府", "裕民街道办事处", "农林场", "市直各部门单位"]


def test_labeled_inline_annotations_full_and_ascii_punctuation():
    text = (
        "1. 实施河岸堤防工程。加大黄河薄弱堤岸和隐患河段治理力度，根据不同河段，加快黄河青铜峡段标准化堤防工程建设，"
        "完成提标改造河岸堤防2.5公里。（牵头单位：水务局；责任单位：自然资源局、应急管理局）"
    )
    (ann,) = find_unit_annotations(text)
    assert (ann.lead, ann.supporting) == (["水务局"], ["自然资源局", "应急管理局"])
    ascii_text = (
        "核定的灌溉面积作为各干渠直开口配水、水费收缴、结算、核查的依据,各镇总会必须在6月30日前完成此项工作,"
        "由市水务局年终进行考核。(牵头单位:市水务局,配合单位:各镇、农林场,市农业农村局)"
    )
    (ann,) = find_unit_annotations(ascii_text)
    assert ann.lead == ["市水务局"]
    assert ann.cooperating == ["各镇", "农林场", "市农业农村局"]


def test_unit_lines_follow_a_multi_line_item():
    text = (
        "(1) 贯彻落实《病媒生物预防控制管理规定》, 建立政府组织与全社会参与相结合的病媒生物防控机制, 机关、企事业单位和"
        "社区定期开展病媒生物预防控制活动。掌握病媒生物孳生地基本情况, 制定分类处理措施, 湖泊、\n"
        "河流、小型积水、垃圾、厕所等各类孳生环境得到有效治理。\n"
        "牵头单位：市卫生健康局\n"
        "责任单位：市疾控中心、爱卫会办公室\n"
        "完成时限：6月底"
    )
    (ann,) = find_unit_annotations(text)
    assert ann.style == "unit_lines"
    assert ann.lead == ["市卫生健康局"]
    assert ann.supporting == ["市疾控中心", "爱卫会办公室"]
    # the task is the whole item, both of its lines
    assert text[ann.start:ann.end].startswith("(1) 贯彻落实")
    assert text[ann.start:ann.end].endswith("得到有效治理")
    s, e = ann.fields["完成时限"]
    assert text[s:e] == "完成时限：6月底"


def test_unit_lines_with_ascii_colon_and_wrapped_list():
    text = (
        "(5) 按照《生活饮用水卫生监督管理办法》要求, 市政供水、自备供水、居民小区直饮水管理规范, 供水单位有卫生许可证。\n"
        "牵头单位: 市卫生健康局\n配合单位: 市卫生计生执法监督所、城市公用事业服务中心\n完成时限: 5 月底"
    )
    (ann,) = find_unit_annotations(text)
    assert ann.lead == ["市卫生健康局"]
    assert ann.cooperating == ["市卫生计生执法监督所", "城市公用事业服务中心"]
    wrapped = (
        "(2) 健全各级组织，明确成员单位分工。爱卫会办公室独立或相对独立设置，爱国卫生工作经费纳入财政预算。\n"
        "牵头单位：市爱卫会（国卫复审指挥部）办公室\n责任单位：市政府办公室、编办、财政局\n"
        "配合单位：各镇、街道、农林场，市直各部门\n及人民团体，驻青区属、吴属单位\n完成时限：4月底"
    )
    (ann,) = find_unit_annotations(wrapped)
    assert ann.lead == ["市爱卫会（国卫复审指挥部）办公室"]  # bracket inside a name keeps it whole
    assert "市直各部门及人民团体" in ann.cooperating  # the page-break wrap is joined, not split
    assert "及人民团体" not in ann.cooperating


def test_responsible_only_unit_line_makes_those_units_lead():
    text = (
        "(1) 加强“门前三包”、占道经营、乱设摊点，店门牌匾、流动摊贩等市容市貌有效监管。\n"
        "责任单位：市住房和城乡建设局、城市管理综合执法大队、市政管理服务中心"
    )
    (ann,) = find_unit_annotations(text)
    assert ann.lead == ["市住房和城乡建设局", "城市管理综合执法大队", "市政管理服务中心"]
    assert ann.lead_explicit is False
    assert ann.lead_text == "市住房和城乡建设局、城市管理综合执法大队、市政管理服务中心"


def test_table_row_with_carried_cells_first_responsible_unit_leads():
    # Row 9 of 附件4: 名称 and 重点任务 are merged cells carried from the row above.
    row = (
        "名称：建立健全巩固拓展脱贫攻坚成果长效机制；序号：9；重点任务：巩固“两不愁三保障”成果；"
        "主要内容：有劳动能力的搬迁家庭至少有一项稳定增收产业或至少一人稳定就业；"
        "责任单位：市扶贫办、市委农村工作领导小组成员单位，各相关镇党委和政府"
    )
    (ann,) = find_unit_annotations(row, "table_row")
    assert ann.style == "table"
    assert ann.lead == ["市扶贫办"]
    assert ann.responsible == ["市扶贫办", "市委农村工作领导小组成员单位", "各相关镇党委和政府"]
    assert ann.supporting == ["市委农村工作领导小组成员单位", "各相关镇党委和政府"]
    assert ann.lead_explicit is False
    # detected without the kind too
    assert _leads(row) == [["市扶贫办"]]


def test_table_row_with_lead_and_cooperating_columns():
    row = (
        "序号：18；重点任务：持续改善空气质量；实施内容：强化燃煤锅炉整治，完成“青铜峡市清洁煤储配中心”及各镇配送点的建设；"
        "重点项目：/；牵头部门：市场监管局；配合部门：生态环境分局"
    )
    (ann,) = find_unit_annotations(row, "table_row")
    assert (ann.lead, ann.supporting, ann.lead_explicit) == (["市场监管局"], ["生态环境分局"], True)


def test_annotation_cut_by_a_page_break():
    closing_half = "单位：商务和投资促进局、文化旅游体育广电局、各镇场）"
    (ann,) = find_unit_annotations(closing_half)
    assert ann.style == "fragment"
    assert ann.lead == [] and ann.supporting == ["商务和投资促进局", "文化旅游体育广电局", "各镇场"]
    opening_half = "持续扩大区域品牌优势，实现“卖产品”向“卖品牌”转变，年内申请名特优农产品认证2个。（牵头单位：农业农村局；配合"
    (ann,) = find_unit_annotations(opening_half)
    assert ann.style == "fragment"
    assert ann.lead == ["农业农村局"]
    assert "配合" not in ann.lead + ann.supporting


def test_ordinary_parentheses_are_not_markings():
    text = (
        "认真贯彻落实《国务院关于进一步加强新时期爱国卫生工作的意见》（国发〔2014〕66号），制作国家卫生城市复审三年"
        "（2018年—2020年）工作纪实片，推进自然村（组）道路硬化。"
    )
    assert find_unit_annotations(text) == []


def test_split_unit_list_keeps_bracketed_names_whole():
    names, aliases = split_unit_list("市教育局、裕民街道办事处、市社区服务中心（紫薇社区服务站、北苑社区服务站）")
    assert names == ["市教育局", "裕民街道办事处", "市社区服务中心"]
    assert aliases["市社区服务中心"] == ["紫薇社区服务站", "北苑社区服务站"]
    names, _ = split_unit_list("各镇、街道、农林场，市直各部门及人民团体，驻青区属、吴属单位")
    assert names == ["各镇", "街道", "农林场", "市直各部门及人民团体", "驻青区属", "吴属单位"]


# --- responsibility in running text: real snippets of the laws corpus (laws-sample) -------------------

from qa.units import find_prose_responsibilities  # noqa: E402

# 无人驾驶航空器飞行管理暂行条例 第四条: one body per paragraph, each the subject of its sentence.
DRONES_ART_4 = (
    "第四条 国家空中交通管理领导机构统一领导全国无人驾驶航空器飞行管理工作，组织协调解决无人驾驶航空器管理工作中的"
    "重大问题。\n国务院民用航空、公安、工业和信息化、市场监督管理等部门按照职责分工负责全国无人驾驶航空器有关管理工作。\n"
    "县级以上地方人民政府及其有关部门按照职责分工负责本行政区域内无人驾驶航空器有关管理工作。"
)


def test_prose_subject_bodies_of_a_law_article():
    anns = find_prose_responsibilities(DRONES_ART_4)
    assert [a.lead for a in anns] == [
        ["国家空中交通管理领导机构"],
        ["国务院民用航空、公安、工业和信息化、市场监督管理等部门"],  # the whole enumeration, not "国务院"
        ["县级以上地方人民政府及其有关部门"],
    ]
    assert all(a.style == "prose" and a.lead_explicit for a in anns)
    assert anns[0].duty == "统一领导"
    # the task span is the sentence, so a question is matched to the right body
    assert DRONES_ART_4[anns[2].start:anns[2].end].endswith("本行政区域内无人驾驶航空器有关管理工作")


def test_prose_by_body_takes_the_whole_name_before_the_verb():
    # 长城保护条例 第二条; 印章管理的规定 十、; 浙江省见义勇为人员奖励和保障条例 第六条
    wall = "受本条例保护的长城段落，由国务院文物主管部门认定并公布。"
    seal = ("十、地区(盟)行政公署的印章，直径4.5厘米，中央刊五角星，五角星外刊机关名称，自左而右环行(图十)，"
            "由省、自治区人民政府制发。")
    bravery = "第二章 确认\n第六条 见义勇为行为的确认，由行为发生地的公安机关负责。"
    (w,) = find_prose_responsibilities(wall)
    assert w.lead == ["国务院文物主管部门"] and w.duty.startswith("认定")  # not "国务院" + "文物主管…"
    (s,) = find_prose_responsibilities(seal)
    assert s.lead == ["省、自治区人民政府"] and s.lead_text == "省、自治区人民政府"
    (b,) = find_prose_responsibilities(bravery)
    assert b.lead == ["行为发生地的公安机关"]


def test_prose_authority_and_cooperating_bodies():
    # 上海市生活垃圾管理条例 第六条 (district level) and 北京市接诉即办工作条例 第十三条
    text = ("第六条 区人民政府负责所辖区域内生活垃圾管理工作，并建立相应的综合协调机制。\n"
            "区绿化市容部门负责所辖区域内生活垃圾管理工作的具体组织、协调、指导和监督。")
    assert [a.lead for a in find_prose_responsibilities(text)] == [["区人民政府"], ["区绿化市容部门"]]
    authority = "市绿化市容部门是本市生活垃圾管理的主管部门，负责本市生活垃圾管理工作的组织、协调、指导和监督。"
    (a,) = find_prose_responsibilities(authority)
    assert a.lead == ["市绿化市容部门"] and a.lead_explicit and "主管" in a.duty
    limits = "办理时限由市政务服务部门会同有关部门依据相关法律、法规、规章、政策规定和行业标准确定。"
    (c,) = find_prose_responsibilities(limits)
    assert c.lead == ["市政务服务部门"] and c.cooperating == ["有关部门"]


def test_prose_weak_duties_and_non_bodies():
    (weak,) = find_prose_responsibilities("第五条 市人民政府应当加强对本市生活垃圾管理工作的领导。")
    assert weak.lead == ["市人民政府"] and not weak.lead_explicit  # "应当" says what it does, not who leads
    # gazette prose: "加强组织领导" names no body; the office "在市教育局" is not a duty sentence
    prose = ("(一) 加强组织领导，统筹推进各项工作。领导小组下设办公室在市教育局，教育局长任办公室主任，负责统筹推进义务教育"
             "优质均衡发展工作。")
    assert find_prose_responsibilities(prose) == []
    # markings are found by find_unit_annotations only; prose does not change them
    assert _leads(ITEM_9) == [["市人力资源和社会保障局"], ["市民政局", "妇联"], ["市残联"]]
