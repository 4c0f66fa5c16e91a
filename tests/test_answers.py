"""Short answers from cited passages, on real snippets of the 青铜峡市人民政府公报 (2021 第2期).

Questions here are written for these tests (none is taken from the eval set); each assertion names a
specific unit / figure so that a wrong attribution (e.g. the first or last annotation of a paragraph
instead of the middle one) fails.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from qa.answer import Answer, Passage, answer_question, classify_question, requested_role  # noqa: E402
from qa.overlap import clause_overlap  # noqa: E402

# --- documents (metadata as the reader gives it) -----------------------------------------------------

DOC_16 = dict(
    doc_title="青铜峡市委 人民政府关于印发《关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案》的通知",
    doc_number="青党发〔2021〕16号", issuer="中共青铜峡市委员会 青铜峡市人民政府", date="2021-06-11",
)
DOC_30 = dict(
    doc_title="青铜峡市委办公室 人民政府办公室关于印发《青铜峡市 2021 年国家卫生城市复审工作方案》的通知",
    doc_number="青党办〔2021〕30号", issuer="中共青铜峡市委员会办公室 青铜峡市人民政府办公室", date="2021-04-12",
)
DOC_23 = dict(
    doc_title="青铜峡市人民政府关于印发《青铜峡市基层水利服务体系改革实施方案》的通知",
    doc_number="青政发〔2021〕23号", issuer="青铜峡市人民政府", date="2021-05-06",
)
DOC_14 = dict(
    doc_title="青铜峡市人民政府办公室关于印发《青铜峡市推进县域义务教育优质均衡发展实施方案》的通知",
    doc_number="青政办发〔2021〕14号", issuer="青铜峡市人民政府办公室", date="2021-05-12",
)


def P(text: str, score: float, doc: dict, kind: str = "paragraph", section: list[str] | None = None) -> Passage:
    return Passage(text=text, score=score, section=section or [], kind=kind, **doc)


def assert_cited(answer: Answer, passages: list[Passage]) -> None:
    """No invented text: the answer (or each part of a join) is in a supporting passage or its metadata."""
    assert answer.answer is not None and answer.support
    cited = "".join(
        passages[i].text + passages[i].doc_title + (passages[i].doc_number or "") + (passages[i].issuer or "")
        + (passages[i].date or "")
        for i in answer.support
    )
    for part in re.split(r"[、（），]", answer.answer):
        assert part.strip() in cited, part
    assert 0.0 <= answer.confidence <= 1.0


# --- snippets --------------------------------------------------------------------------------------

ITEM_9 = (
    "9. 完善养老保障和儿童关爱服务。实施“银发无忧”工程，完善城乡居民基本养老保险费代缴政策，按最低缴费档次为"
    "参加城乡居民养老保险的低保对象、特困人员、返贫致贫人口、重度残疾人等困难群体代缴部分或全部保费。在提高城乡"
    "居民养老保险缴费档次时，对上述困难群体和其他已脱贫人口保留现行最低缴费档次（市人力资源和社会保障局负责）。"
    "持续加大市镇两级养老机构对失能、部分失能特困老年人的兜底保障力度，强化对孤儿、事实无人抚养儿童等兜底保障。"
    "充分发挥老饭桌等为老服务基础设施作用，支持发展农村互助养老、多元托养托育服务，建立老年人意外伤害保险保障机制，"
    "全面落实农村留守儿童、妇女、老年人关爱服务政策（市民政局、妇联负责）。加强残疾人士托养服务、康复服务供给，"
    "动态调整“两项补贴”，确保残疾人士政策保障到位（市残联负责）。"
)
ITEM_7 = (
    "7. 分层分类实施社会救助。完善最低生活保障制度，鼓励支持有劳动能力的农村低保对象积极创业就业、增收致富。"
    "落实农村特困人员救助供养制度，保障好基本生活，做到应兜尽兜、应保尽保。加强临时救助，做到凡困必帮、有难必救。"
    "（市民政局、残联负责）"
)
ITEM_16_PART = (
    "事”行动为载体，每年为每个行政村办一件实事，逐步解决农村短板问题。大力实施农村人居环境“五大工程”。实施庄点清洁"
    "整治工程，全面整治私搭乱建违法行为，分类有序推进生活垃圾处理，实现农户垃圾分类分拣全覆盖，持续改善村容村貌，"
    "重点整治提升45个村，争创国家农村人居环境整治激励县和全国村庄清洁行动先进县、全区垃圾分类试点示范县（市委农办牵头）。"
    "实施污水管网扩面工程，对农村生活污水集中收集处理，配套建设农村污水处理管网，新建、改扩建污水处理站15座，"
    "农村污水处理率达到60%以上（市住房和城乡建设局负责）。实施农房质量提升工程，全面消除土坯房，完成20个村庄农房"
    "建设质量提升任务（市住房和城乡建设局牵头）。实施庄点庭院绿化工程，因地制宜在庄点民居、房前屋后栽植结果林，"
    "鼓励群众发展庭院经济，绿化美化53个村136个农村庄点，绿化村庄空闲地及巷道4800亩，巷道施工34.6公里"
    "（市自然资源局、住房和城乡建设局负责）。实施农村供热扩面提升工程，利用电厂余热、天然气、太阳能光伏、生物质成型"
    "燃料等模式，率先在峡口赵汉新村、青铜峡镇同兴村等7个村实施农村清洁供暖工程，争创全国分布式光伏能源供热示范点。\n"
    "（市农业农村局牵头，市发展和改革委员会、住房和城乡建设局负责）"
)
LIVE_POULTRY = (
    "(11) 活禽销售市场卫生管理规范，设立相对独立的经营区域，按照动物防疫有关要求，实行隔离宰杀，落实定期休市和"
    "清洗消毒制度，对废弃物实施规范处理。\n牵头单位：市农业农村局\n责任单位：小坝镇，商务和投资促进局、市场监督管理局、"
    "交通运输局、公安局、市场服务中心、城市管理综合执法大队\n完成时限：6月底"
)
PUBLIC_PLACES = (
    "(1) 贯彻落实《公共场所卫生管理条例》，开展公共场所卫生监督量化分级工作。公共场所卫生许可手续齐全有效，"
    "从业人员取得有效健康合格证明。\n牵头单位：市卫生健康局\n配合单位：市卫生计生执法监督所\n完成时限：5月底"
)
ROW_8 = (
    "名称：建立健全巩固拓展脱贫攻坚成果长效机制；序号：8；重点任务：巩固“两不愁三保障”成果；主要内容：全面推广"
    "“互联网+城乡供水”，实施城乡供水一体化工程，巩固提升农村人饮安全水平，全市农村自来水普及率98%以上；"
    "责任单位：水务局，各镇党委和政府"
)
ROW_7 = (
    "名称：建立健全巩固拓展脱贫攻坚成果长效机制；序号：7；重点任务：巩固“两不愁三保障”成果；主要内容：有效防范"
    "因病返贫致贫风险，落实分类资助参保政策，做好脱贫人口参保动员工作；责任单位：卫生健康局、医疗保障局，各镇党委和政府"
)
# 序号 9: 名称 and 重点任务 are merged cells, carried from the row above by the reader.
ROW_9 = (
    "名称：建立健全巩固拓展脱贫攻坚成果长效机制；序号：9；重点任务：巩固“两不愁三保障”成果；主要内容：有劳动能力的"
    "搬迁家庭至少有一项稳定增收产业或至少一人稳定就业；责任单位：市扶贫办、市委农村工作领导小组成员单位，各相关镇党委和政府"
)
WATER_LEDGER = (
    "并以干渠直开口建立灌溉面积台账。核定的灌溉面积作为各干渠直开口配水、水费收缴、结算、核查的依据,各镇总会必须在"
    "6月30日前完成此项工作,由市水务局年终进行考核。(牵头单位:市水务局,配合单位:各镇、农林场,市农业农村局)"
)
WATER_PLAN = "2024年底，全灌区完成基层水利服务体系改革，实现工程完好、配套齐全的灌溉工程体系、科学的灌区末级渠系管理体制和灌区良性运行机制。"


# --- lead units ------------------------------------------------------------------------------------


def test_lead_unit_from_the_middle_annotation_of_a_paragraph():
    passages = [P(ITEM_9, 12.0, DOC_16), P(ITEM_7, 9.0, DOC_16)]
    a = answer_question("孤儿和事实无人抚养儿童的兜底保障由哪个部门负责？", passages)
    assert a.answer_type == "lead_unit"
    assert a.answer == "市民政局、妇联"
    assert a.lead_units == ["市民政局", "妇联"]
    assert a.support == [0]
    assert a.features["marker_style"] == "inline" and a.features["attributed"]
    assert_cited(a, passages)
    # the first and the last tasks of the same paragraph get their own units
    assert answer_question("困难群体的城乡居民养老保险保费代缴由谁负责？", passages).answer == "市人力资源和社会保障局"
    assert answer_question("残疾人士托养和康复服务供给由哪个部门负责？", passages).answer == "市残联"


def test_lead_then_responsible_combination():
    passages = [P(ITEM_16_PART, 10.0, DOC_16)]
    a = answer_question("争创全国分布式光伏能源供热示范点由哪个部门牵头？", passages)
    assert a.answer == "市农业农村局"
    assert a.supporting_units == ["市发展和改革委员会", "住房和城乡建设局"]
    assert_cited(a, passages)
    b = answer_question("农村清洁供暖工程还有哪些部门配合？", passages)
    assert b.answer == "市发展和改革委员会、住房和城乡建设局"
    assert b.features["role_answered"] == "cooperating"
    # a neighbouring task of the same paragraph: 农房质量提升 is led by 住建局, not 农业农村局
    c = answer_question("全面消除土坯房、提升农房建设质量由哪个单位牵头？", passages)
    assert c.answer == "市住房和城乡建设局"


def test_lead_unit_from_unit_lines_below_the_item():
    passages = [P(PUBLIC_PLACES, 9.0, DOC_30), P(LIVE_POULTRY, 8.5, DOC_30)]
    a = answer_question("活禽销售市场隔离宰杀、定期休市由哪个部门牵头？", passages)
    assert a.answer == "市农业农村局" and a.support == [1]
    assert "城市管理综合执法大队" in a.supporting_units
    assert a.features["marker_style"] == "unit_lines"
    assert_cited(a, passages)
    b = answer_question("公共场所卫生监督量化分级工作有哪些配合单位？", passages)
    assert b.answer == "市卫生计生执法监督所" and b.support == [0]


def test_lead_unit_from_table_rows_first_responsible_unit_leads():
    passages = [P(ROW_7, 7.0, DOC_16, "table_row"), P(ROW_8, 6.5, DOC_16, "table_row"), P(ROW_9, 6.0, DOC_16, "table_row")]
    a = answer_question("城乡供水一体化、农村自来水普及由哪个单位负责？", passages)
    assert a.answer == "水务局" and a.support == [1]
    assert a.lead_units == ["水务局"] and a.supporting_units == ["各镇党委和政府"]
    assert_cited(a, passages)
    # the row whose 名称/重点任务 cells were carried down from the row above
    b = answer_question("搬迁家庭至少一人稳定就业由哪个部门负责？", passages)
    assert b.answer == "市扶贫办" and b.support == [2]
    assert b.supporting_units == ["市委农村工作领导小组成员单位", "各相关镇党委和政府"]
    c = answer_question("落实分类资助参保政策由哪些部门负责？", passages)
    assert c.answer == "卫生健康局、医疗保障局，各镇党委和政府"  # 哪些: all the responsible units, as written


def test_labeled_inline_annotation_with_ascii_punctuation():
    passages = [P(WATER_LEDGER, 5.0, DOC_23)]
    a = answer_question("建立干渠直开口灌溉面积台账由哪个单位牵头？", passages)
    assert a.answer == "市水务局"
    assert a.supporting_units == ["各镇", "农林场", "市农业农村局"]


def test_prose_without_a_marking_is_answered_with_the_body_the_sentence_names():
    prose = (
        "(一) 加强组织领导，统筹推进各项工作。领导小组下设办公室在市教育局，教育局长任办公室主任，负责统筹推进义务教育"
        "优质均衡发展工作。"
    )
    passages = [P(prose, 6.0, DOC_14), P(ITEM_7, 5.0, DOC_16)]
    a = answer_question("领导小组办公室设在哪个单位？", passages)
    # no marking closes this text: the sentence is found, and the body it names next to 设…在 is the answer
    assert a.answer_type == "lead_unit" and a.features["intended_type"] == "lead_unit"
    assert a.answer == "市教育局" and a.features["marker_style"] == "sentence" and a.support == [0]
    assert "下设办公室在市教育局" in a.features["sentence"]


# --- figures and dates -----------------------------------------------------------------------------


def test_number_is_the_clause_holding_the_asked_figure():
    passages = [P(ITEM_16_PART, 10.0, DOC_16)]
    a = answer_question("农村新建、改扩建污水处理站多少座？", passages)
    assert a.answer_type == "number"
    assert a.answer == "新建、改扩建污水处理站15座"
    assert_cited(a, passages)
    # the measure asked for (公里) picks the right clause among several figures of one sentence
    b = answer_question("庄点庭院绿化工程巷道施工多少公里？", passages)
    assert b.answer == "巷道施工34.6公里"
    # the marking is not part of the clause
    c = answer_question("农村污水处理率要达到多少？", passages)
    assert c.answer == "农村污水处理率达到60%以上"


def test_deadline_line_is_attributed_to_its_item():
    passages = [P(PUBLIC_PLACES, 9.0, DOC_30), P(LIVE_POULTRY, 8.5, DOC_30)]
    a = answer_question("活禽销售市场隔离宰杀和定期休市什么时候完成？", passages)
    assert a.answer_type == "date"
    assert a.answer == "完成时限：6月底" and a.support == [1]  # not the 5月底 of the other item


def test_date_in_running_text():
    passages = [P(WATER_PLAN, 6.0, DOC_23), P(WATER_LEDGER, 5.5, DOC_23)]
    a = answer_question("各镇总会核定灌溉面积要在什么时候之前完成？", passages)
    assert a.answer_type == "date"
    assert a.answer == "各镇总会必须在6月30日前完成此项工作" and a.support == [1]
    b = answer_question("全灌区哪一年完成基层水利服务体系改革？", passages)
    assert b.answer.startswith("2024年底")


def test_table_cell_named_by_its_column():
    indicator = (
        "类别：生态保护修复；指标名称：1. 森林覆盖率 (%)；2020 年 实际指标：14；2020 年 全区名次：10；"
        "2021 年 预计指标：14.8；2021 年 争取名次：-；配合部门：自然资源局"
    )
    leaders = [
        "重点帮扶村（社区）：邵岗镇大沟村；帮扶单位：财政局；帮扶责任人：财政局局长；包抓领导：马晓贤",
        "重点帮扶村（社区）：邵岗镇玉西村；帮扶单位：组织部；帮扶责任人：组织部常务副部长；包抓领导：苏 忠",
    ]
    passages = [P(indicator, 5.0, DOC_16, "table_row")]
    a = answer_question("森林覆盖率2021年预计指标是多少？", passages)
    assert a.answer == "14.8" and a.features["field"] == "2021年预计指标"
    passages = [P(leaders[1], 5.0, DOC_16, "table_row"), P(leaders[0], 4.9, DOC_16, "table_row")]
    b = answer_question("邵岗镇大沟村的包抓领导是谁？", passages)
    assert b.answer == "马晓贤" and b.support == [1]


# --- documents -------------------------------------------------------------------------------------


def _doc_passages(front_matter_date: bool) -> list[Passage]:
    notice = "《青铜峡市基层水利服务体系改革实施方案》已经市政府同意，现印发给你们，请认真遵照执行。"
    if front_matter_date:
        notice += "\n青铜峡市人民政府\n2021年5月6日"
    return [
        P(notice, 8.0, DOC_23, "front_matter"),
        P("《青铜峡市推进县域义务教育优质均衡发展实施方案》已经市人民政府同意，现印发给你们，请抓好贯彻落实。", 7.0, DOC_14,
          "front_matter"),
    ]


def test_document_title_number_date_issuer():
    passages = _doc_passages(front_matter_date=True)
    a = answer_question("青政办发〔2021〕14号是什么文件？", passages)
    assert a.answer_type == "document"
    assert a.answer.startswith(DOC_14["doc_title"]) and a.support == [1]
    assert "2021-05-12" in a.answer
    assert answer_question("基层水利服务体系改革实施方案的文号是什么？", passages).answer == "青政发〔2021〕23号"
    # the date in the source's own form when a passage shows it, else the ISO metadata
    assert answer_question("基层水利服务体系改革实施方案是哪天印发的？", passages).answer == "2021年5月6日"
    bare = _doc_passages(front_matter_date=False)
    assert answer_question("基层水利服务体系改革实施方案是哪天印发的？", bare).answer == "2021-05-06"
    issuer = answer_question("义务教育优质均衡发展实施方案是哪个单位印发的？", passages)
    assert issuer.answer == "青铜峡市人民政府办公室" and issuer.support == [1]


def test_document_number_cited_in_the_text():
    basis = (
        "为大力弘扬脱贫攻坚精神，根据《自治区党委 人民政府关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接的实施意见》"
        "（宁党发〔2021〕15号）和《吴忠市委 人民政府关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接的实施意见》"
        "（吴党发〔2021〕12号）部署要求，结合青铜峡实际，制定本实施方案。"
    )
    passages = [P(basis, 6.0, DOC_16)]
    a = answer_question("衔接实施方案依据的吴忠市委实施意见文号是什么？", passages)
    assert a.answer == "吴党发〔2021〕12号"
    b = answer_question("衔接实施方案依据的自治区党委实施意见文号是什么？", passages)
    assert b.answer == "宁党发〔2021〕15号"


def test_which_document_names_title_and_number():
    passages = [P(WATER_LEDGER, 6.0, DOC_23), P(ITEM_9, 5.0, DOC_16)]
    a = answer_question("要求各镇总会6月30日前核定灌溉面积的是哪份文件？", passages)
    assert a.answer_type == "document"
    assert a.answer == DOC_23["doc_title"] + "（青政发〔2021〕23号）"


# --- passages, question types, features --------------------------------------------------------------


def test_passage_answer_is_the_best_sentence():
    text = (
        "国家卫生城市复审工作指挥部下设市容环境卫生工作组、环境保护工作组、食品和饮用水安全工作组、卫生和健康工作组、"
        "宣传报道工作组和综合督查工作组 6 个工作组。\n（一）市容环境卫生工作组"
    )
    passages = [P(text, 4.0, DOC_30)]
    a = answer_question("国家卫生城市复审工作指挥部下设哪些工作组？", passages)
    assert a.answer_type == "passage"
    assert a.answer.startswith("国家卫生城市复审工作指挥部下设市容环境卫生工作组")
    assert_cited(a, passages)


def test_classify_question():
    assert classify_question("污水管网扩面工程由哪个部门牵头？") == "lead_unit"
    assert classify_question("垃圾分类试点哪些单位配合？") == "lead_unit"
    assert classify_question("农村污水处理率要达到多少？") == "number"
    assert classify_question("每个镇至少办几所中心幼儿园？") == "number"
    assert classify_question("农房质量提升任务什么时候完成？") == "date"
    assert classify_question("工作计划是哪一年的？") == "date"
    assert classify_question("青政发〔2021〕23号是什么文件？") == "document"
    assert classify_question("政务公开工作要点的文号是什么？") == "document"
    assert classify_question("复审工作方案是哪天印发的？") == "document"
    assert classify_question("复审工作方案的发文机关是谁？") == "document"
    assert classify_question("国家卫生城市复审分为哪几个阶段？") == "passage"
    assert requested_role("哪些部门配合？") == "cooperating"
    assert requested_role("责任单位有哪些？") == "responsible"
    assert requested_role("由哪个部门牵头？") == "lead"


def test_clause_overlap_separates_related_and_unrelated_text():
    q = "残疾人士托养服务由谁负责？"
    high = clause_overlap(q, ITEM_9)
    low = clause_overlap(q, WATER_LEDGER)
    assert 0.0 <= low < 0.3 < 0.8 <= high <= 1.0


def test_confidence_reflects_retrieval_rank_and_marker():
    q = "残疾人士托养和康复服务供给由哪个部门负责？"
    filler = [P(WATER_PLAN, 1.0, DOC_23), P(WATER_LEDGER, 1.0, DOC_23), P(PUBLIC_PLACES, 1.0, DOC_30)]
    first = answer_question(q, [P(ITEM_9, 10.0, DOC_16)] + filler)
    last = answer_question(q, filler + [P(ITEM_9, 0.5, DOC_16)])
    assert first.answer == last.answer == "市残联"
    assert first.confidence > last.confidence
    assert first.features["rank"] == 0 and last.features["rank"] == 3
    # a marking cut by a page break names no task: weaker than an attributed one
    frag = answer_question("文化旅游体育广电局配合哪项工作？",
                           [P("单位：商务和投资促进局、文化旅游体育广电局、各镇场）", 3.0, DOC_23)])
    assert frag.confidence < first.confidence


def test_never_abstains_by_itself_but_handles_no_passages():
    assert answer_question("任何问题？", []).answer_type == "none"
    a = answer_question("与文本无关的问题是什么？", [P(WATER_PLAN, 1.0, DOC_23)])
    assert a.answer is not None and a.confidence < 0.5
    assert "clause_overlap" in a.features


# --- laws and regulations (real snippets of laws-sample; questions written for these tests) -----------------

LAW = dict(doc_title="国务院关于国家行政机关和企业事业单位社会团体印章管理的规定", doc_number=None,
           issuer="国务院", date="1999-10-31")
WALL = dict(doc_title="长城保护条例", doc_number=None, issuer="中华人民共和国国务院", date="2006-10-11")
SHANWEI = dict(doc_title="汕尾市农村建房条例", doc_number=None, issuer="汕尾市人民代表大会常务委员会", date="2022-11-30")
HEAT = dict(doc_title="山东省供热条例", doc_number=None, issuer="山东省人民代表大会常务委员会", date="2021-12-03")
DONGYING = dict(doc_title="东营市黄河三角洲生态保护与修复条例", doc_number=None, issuer="东营市人民代表大会常务委员会",
                date="2019-11-29")
NGO = dict(doc_title="民办非企业单位登记管理暂行条例", doc_number=None, issuer="中华人民共和国国务院", date="1998-10-25")
PATENT = dict(doc_title="专利代理条例", doc_number=None, issuer="中华人民共和国国务院", date="2018-11-06")
RED = dict(doc_title="上海市红色资源传承弘扬和保护利用条例", doc_number=None, issuer="上海市人民代表大会常务委员会",
           date="2021-05-21")

# 无人驾驶航空器飞行管理暂行条例 第四条
DRONES_ART_4 = (
    "第四条 国家空中交通管理领导机构统一领导全国无人驾驶航空器飞行管理工作，组织协调解决无人驾驶航空器管理工作中的"
    "重大问题。\n国务院民用航空、公安、工业和信息化、市场监督管理等部门按照职责分工负责全国无人驾驶航空器有关管理工作。\n"
    "县级以上地方人民政府及其有关部门按照职责分工负责本行政区域内无人驾驶航空器有关管理工作。"
)
SEAL_9 = ("九、自治州、市、县级(县、自治县、县级市、旗、自治旗、特区、林区，下同)和市辖区人民政府的印章，直径4.5厘米，"
          "中央刊国徽，国徽外刊机关名称，自左而右环行(图九)，由省、自治区、直辖市人民政府制发。")
SEAL_10 = ("十、地区(盟)行政公署的印章，直径4.5厘米，中央刊五角星，五角星外刊机关名称，自左而右环行(图十)，"
           "由省、自治区人民政府制发。")


def test_lead_unit_from_a_body_named_in_running_text():
    passages = [P(SEAL_10, 0.8, LAW), P(SEAL_9, 0.7, LAW)]
    a = answer_question("地区行政公署的印章由谁制发？", passages)
    assert a.answer_type == "lead_unit" and a.answer == "省、自治区人民政府" and a.support == [0]
    assert a.features["marker_style"] == "prose"
    assert_cited(a, passages)
    b = answer_question("无人驾驶航空器在本行政区域内的有关管理工作由谁负责？",
                        [P(DRONES_ART_4, 0.9, LAW)])
    assert b.answer == "县级以上地方人民政府及其有关部门"


def test_the_duty_asked_selects_the_body():
    # Both bodies deal with 长城段落; only one is given the duty the question names (认定).
    text = ("第二条 本条例所称长城，包括长城的墙体、城堡、关隘、烽火台、敌楼等。\n受本条例保护的长城段落，由国务院文物主管部门"
            "认定并公布。\n长城所在地县级人民政府负责长城段落的日常巡查工作。")
    a = answer_question("受保护的长城段落由哪个部门认定？", [P(text, 0.9, WALL)])
    assert a.answer == "国务院文物主管部门"


def test_list_items_are_read_with_their_lead_in():
    text = ("第十三条 本市新批准农村宅基地的面积按照下列标准执行：平原地区和城市郊区每户不超过80平方米；丘陵地区每户不超过"
            "120平方米；山区每户不超过150平方米。")
    a = answer_question("丘陵地区新批宅基地每户最多能有多少平方米？", [P(text, 0.9, SHANWEI)])
    assert a.answer_type == "number" and a.answer == "丘陵地区每户不超过120平方米"


def test_figures_in_chinese_numerals_and_synonym_measures():
    text = ("第三十条 未经供热主管部门批准，供热企业不得擅自停业。确需停业的，应当在当年采暖供热期开始六个月前向供热主管部门"
            "提出申请，供热主管部门应当自收到申请之日起二十日内作出是否批准的决定。")
    a = answer_question("供热企业确需停业，要在供暖期开始前几个月提出申请？", [P(text, 0.9, HEAT)])
    assert "六个月" in a.answer and a.features["measure_match"]
    b = answer_question("供热主管部门收到停业申请后，要在多少天内作出决定？", [P(text, 0.9, HEAT)])
    assert "二十日内" in b.answer and b.features["measure_match"]  # 天 is answered by 日


def test_a_fine_fixed_as_a_multiple_answers_a_money_question():
    text = ("第五十九条 违反本条例规定，进行开垦、采石、采砂、采土或者其他活动，造成柽柳林木毁坏的，由自然资源和规划部门责令"
            "停止违法行为，限期在原地或者异地补种毁坏株数二倍以上三倍以下的树木，可以处毁坏林木价值三倍以上五倍以下的罚款")
    a = answer_question("毁坏柽柳林木的，罚款是多少？", [P(text, 0.9, DONGYING)])
    assert a.answer_type == "number" and "三倍以上五倍以下" in a.answer
    assert a.features["measure_match"]


def test_decree_number_and_dates_of_a_law_from_its_header():
    ngo = ("民办非企业单位登记管理暂行条例\n1998年9月25日 国务院第8次常务会议通过\n"
           "1998年10月25日 中华人民共和国国务院令第251号发布")
    patent = ("专利代理条例\n1991年3月4日 中华人民共和国国务院令第76号发布\n2018年9月6日 国务院第23次常务会议修订通过\n"
              "2018年11月6日 中华人民共和国国务院令第706号公布\n2019年3月1日 施行")
    assert classify_question("民办非企业单位登记管理暂行条例的令号是多少？") == "document"
    a = answer_question("民办非企业单位登记管理暂行条例的令号是多少？", [P(ngo, 0.9, NGO), P(patent, 0.5, PATENT)])
    assert a.answer == "中华人民共和国国务院令第251号" and a.support == [0]
    b = answer_question("民办非企业单位登记管理暂行条例是哪天通过的？", [P(ngo, 0.9, NGO)])
    assert b.answer_type == "document" and b.answer == "1998年9月25日"
    c = answer_question("专利代理条例修订后是以第几号令公布的？", [P(patent, 0.9, PATENT)])
    assert c.answer == "中华人民共和国国务院令第706号"  # the line of the event asked, not the first 令
    d = answer_question("专利代理条例从什么时候起施行？", [P(patent, 0.9, PATENT)])
    assert d.answer == "2019年3月1日"  # not the metadata date (公布)
    last = "第三十一条 本条例自2017年12月1日起施行。"
    e = answer_question("楼堂馆所条例什么时候生效？", [P(last.replace("施行", "生效"), 0.9, PATENT)])
    assert e.answer == "2017年12月1日"


def test_yes_no_question_is_answered_with_the_rule():
    text = ("第二十五条 具备开放条件的红色旧址、遗址、纪念设施或者场所，应当按照国家有关规定，免费或者优惠向社会公众开放。\n"
            "红色旧址、遗址、纪念设施或者场所开放或者服务项目收取费用的，应当对未成年人、成年学生、教师、老年人、残疾人、"
            "军人和消防救援人员等实施免费或者其他优惠。")
    a = answer_question("学生去参观红色纪念设施要收费吗？", [P(text, 0.9, RED)])
    assert a.answer_type == "passage" and a.features["yes_no"]
    assert "免费" in a.answer
    assert classify_question("学生去参观红色纪念设施要收费吗？") == "passage"
