"""Tests of the gazette reader on the real issue (corpus/qingtongxia-gazette-2021-02.txt) and on small
inline gazettes, plus the pure helpers in qa.readers.common."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.readers.common import (
    DOC_NUMBER_RE,
    doc_number_of_line,
    find_doc_numbers,
    heading_level,
    is_unit_line,
    parse_cn_date,
    repair_text,
    spaceless,
    stable_doc_id,
)
from qa.readers.gazette import analyse_gazette_text, parse_gazette_text, read_gazette

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "qingtongxia-gazette-2021-02.txt"
SOURCE = CORPUS.name

EXPECTED = [  # 文号, date, issuer, category
    ("青党发〔2021〕16号", "2021-06-11", "中共青铜峡市委员会 青铜峡市人民政府", "市委文件"),
    ("青党办〔2021〕46号", "2021-05-20", "中共青铜峡市委员会办公室 青铜峡市人民政府办公室", "市委文件"),
    ("青党办〔2021〕30号", "2021-04-12", "中共青铜峡市委员会办公室 青铜峡市人民政府办公室", "市委文件"),
    ("青政发〔2021〕23号", "2021-05-06", "青铜峡市人民政府", "政府文件"),
    ("青政办发〔2021〕10号", "2021-04-01", "青铜峡市人民政府办公室", "政府文件"),
    ("青政办发〔2021〕14号", "2021-05-12", "青铜峡市人民政府办公室", "政府文件"),
    ("青政办发〔2021〕18号", "2021-06-16", "青铜峡市人民政府办公室", "政府文件"),
]


@pytest.fixture(scope="module")
def text() -> str:
    with open(CORPUS, encoding="utf-8", newline="") as f:
        return f.read()


@pytest.fixture(scope="module")
def parsed(text):
    return analyse_gazette_text(text, SOURCE)


@pytest.fixture(scope="module")
def docs(parsed):
    return parsed.documents


def by_number(docs, number):
    return next(d for d in docs if d.doc_number == number)


def blocks_of(docs):
    return [b for d in docs for b in d.blocks]


COLUMNS = (  # the column names of this tables; a cell value may itself contain "；"
    "名称|序号|重点任务|主要内容|责任单位|重点帮扶村（社区）|帮扶单位|帮扶责任人|包抓领导|实施内容|重点项目|牵头部门|"
    "配合部门|类别|指标名称|2020年实际指标|2020年全区名次|2021年预计指标|2021年争取名次"
)


def row_fields(block) -> dict[str, str]:
    parts = re.split(rf"；(?=(?:{COLUMNS})：)", block.text)
    return dict(part.split("：", 1) for part in parts)


def table_row(doc, seq: str, caption_part: str):
    return next(
        b for b in doc.blocks
        if b.kind == "table_row" and caption_part in b.section[0] and row_fields(b).get("序号") == seq
    )


# --- documents and their metadata --------------------------------------------------------------


def test_front_matter_is_its_own_document(docs):
    front = docs[0]
    assert front.title == "青铜峡市人民政府公报 2021年第2期 目录"
    assert front.doc_number is None
    assert front.blocks and all(b.kind == "front_matter" for b in front.blocks)
    toc_entries = [b for b in front.blocks if b.section[:1] == ["目录"] and "〔2021〕" in b.text]
    assert len(toc_entries) == 7
    assert "青政办发〔2021〕14号" in toc_entries[5].text and "第61页" in toc_entries[5].text
    assert all(b.kind != "front_matter" for d in docs[1:] for b in d.blocks)


def test_seven_documents_with_number_date_issuer_category(docs):
    got = [(d.doc_number, d.date, d.issuer, d.category) for d in docs[1:]]
    assert got == EXPECTED


def test_addressees(docs):
    first = by_number(docs, "青党发〔2021〕16号")
    assert first.addressees == (
        "各镇、街道党（工）委和人民政府（办事处），市直各部门、各人民团体、企事业单位，工业园区、库区管理局，驻青区属、吴属单位"
    )
    assert by_number(docs, "青政办发〔2021〕10号").addressees == "各镇人民政府、裕民街道办事处、农林场，市直有关部门，工业园区"
    assert all(d.addressees and not d.addressees.endswith("：") for d in docs[1:])


def test_titles_are_the_issued_texts_and_the_notice_title_is_the_first_heading(docs):
    first = by_number(docs, "青党发〔2021〕16号")
    assert first.title == "关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案"
    assert first.blocks[0].kind == "heading"
    assert first.blocks[0].text == "青铜峡市委 人民政府关于印发《关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案》的通知"
    assert by_number(docs, "青党办〔2021〕30号").title == "青铜峡市2021年国家卫生城市复审工作方案"
    # the inner title is a heading of its own too
    assert any(b.kind == "heading" and b.text == first.title for b in first.blocks)


def test_doc_ids_are_stable_short_ascii_and_unique(text, docs):
    ids = [d.doc_id for d in docs]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9-]{6,40}", i) for i in ids)
    assert ids == [d.doc_id for d in parse_gazette_text(text, SOURCE)]
    assert by_number(docs, "青党发〔2021〕16号").doc_id.startswith("doc-2021-16-")


def test_read_gazette_reads_the_file(docs):
    again = read_gazette(CORPUS)
    assert [d.doc_id for d in again] == [d.doc_id for d in docs]
    assert again[1].source == SOURCE


# --- repairs --------------------------------------------------------------------------------------


def test_page_break_cut_is_joined(text, docs):
    block = next(b for b in blocks_of(docs) if "农村基础设施和公共服务水平全面提升" in b.text)
    assert block.kind == "paragraph" and block.section == ["一、总体目标"]
    assert "和公\n\n共服务水平" in text[block.char_start : block.char_end]
    item = next(b for b in blocks_of(docs) if b.text.startswith("1. 保持主要帮扶政策总体稳定"))
    assert "予以延续、优化和调整" in item.text


def test_page_footer_is_dropped(parsed):
    footer_line = next(no for no, why in parsed.artifact_lines.items() if why == "page footer")
    assert footer_line == 57  # "发布政令 宣传政策 指导工作 服务社会"
    assert not any("发布政令" in b.text for b in blocks_of(parsed.documents))


def test_stray_spaces_and_markup_are_repaired(docs):
    texts = "\n".join(b.text for b in blocks_of(docs))
    assert "青铜峡市2021年国家卫生城市复审工作方案" in texts
    assert "满意率≥90%" in texts
    assert "<p>" not in texts and "$" not in texts


# --- section paths ------------------------------------------------------------------------------


def test_item_section_path(docs):
    item = next(b for b in blocks_of(docs) if b.text.startswith("14. 持续改善基础设施条件"))
    assert item.kind == "paragraph"
    assert item.section == ["二、主要任务", "（三）着力提升整体发展水平", "14."]


def test_headings_and_items(docs):
    first = by_number(docs, "青党发〔2021〕16号")
    heading = next(b for b in first.blocks if b.text == "（一）建立健全巩固拓展脱贫攻坚成果长效帮扶机制")
    assert heading.kind == "heading"
    assert heading.section == ["二、主要任务", "（一）建立健全巩固拓展脱贫攻坚成果长效帮扶机制"]
    item = next(b for b in first.blocks if b.text.startswith("1. 保持主要帮扶政策总体稳定。"))
    assert item.kind == "paragraph" and item.section[-1] == "1."
    total = next(b for b in first.blocks if b.text == "一、总体目标")
    assert total.kind == "heading" and total.section == ["一、总体目标"]
    # a short numbered heading with sub-items under it
    health = by_number(docs, "青党办〔2021〕30号")
    org = next(b for b in health.blocks if b.text == "1. 爱国卫生组织管理")
    assert org.kind == "heading"
    sub = next(b for b in health.blocks if b.text.startswith("(1) 认真贯彻落实《国务院关于加强爱国卫生工作的决定》"))
    assert sub.section == ["二、主要任务", "(三)全面实施阶段（4月20日至6月30日）", "1. 爱国卫生组织管理", "(1)"]


def test_attachments_start_new_top_level_paths(docs):
    first = by_number(docs, "青党发〔2021〕16号")
    term = next(b for b in first.blocks if b.text.startswith("1. 四大提升行动"))
    assert term.section == ["附件1 《实施方案》相关名词解释", "1."]
    # the attachment whose "附件 3" line the conversion lost is recognised from the attachment list
    lost = next(b for b in first.blocks if b.text == "领导干部包抓乡村振兴示范村名单")
    assert lost.kind == "heading" and lost.section == ["附件3 领导干部包抓乡村振兴示范村名单"]
    row = table_row(first, "1", "附件4")
    assert row.section == ["附件4 青铜峡市关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接2021年度重点工作清单"]
    # the attachment list itself belongs to the document, not to the last item
    listing = next(b for b in first.blocks if b.text.startswith("附件：1."))
    assert listing.section == []


# --- unit lines -----------------------------------------------------------------------------------


def test_unit_lines_are_attached_to_their_item(text, docs):
    health = by_number(docs, "青党办〔2021〕30号")
    item = next(b for b in health.blocks if b.text.startswith("2. 关于“物流家私城"))
    assert item.text == "2. 关于“物流家私城、快递快运行业规范化管理”方面的自查整改。\n责任单位：市商务和投资促进局"
    assert text[item.char_start : item.char_end].endswith("责任单位：市商务和投资促进局")
    assert not any(b.text.startswith("责任单位：市商务和投资促进局") for b in health.blocks)
    org = next(b for b in health.blocks if b.text.startswith("(2) 健全各级组织"))
    assert org.text.endswith(
        "牵头单位：市爱卫会（国卫复审指挥部）办公室\n责任单位：市政府办公室、编办、财政局\n"
        "配合单位：各镇、街道、农林场，市直各部门及人民团体，驻青区属、吴属单位\n完成时限：4月底"
    )
    ascii_colon = next(b for b in health.blocks if b.text.startswith("(6) 二次供水"))
    assert "牵头单位: 市住房和城乡建设局" in ascii_colon.text and ascii_colon.text.endswith("完成时限: 5月底")


def test_roster_lines_are_not_glued_together(docs):
    health = by_number(docs, "青党办〔2021〕30号")
    assert any(b.text == "张克宁 市委常委、政府副市长" for b in health.blocks)
    duty = next(b for b in health.blocks if b.text.startswith("主要职责：负责指导"))
    assert "位卫生制度及环卫设施" in duty.text  # joined across the page break
    assert not any("陈袁滩镇主要职责" in b.text for b in health.blocks)


# --- tables ------------------------------------------------------------------------------------------


def test_table_row_carries_merged_cells_forward(docs):
    first = by_number(docs, "青党发〔2021〕16号")
    row = row_fields(table_row(first, "2", "附件4"))
    assert row["名称"] == "建立健全巩固拓展脱贫攻坚成果长效机制"
    assert row["重点任务"] == "保持主要帮扶政策总体稳定"
    assert row["主要内容"].startswith("对脱贫不稳定户、边缘易致贫户")
    text = table_row(first, "3", "附件4").text
    assert text.startswith("名称：建立健全巩固拓展脱贫攻坚成果长效机制；序号：3；重点任务：健全防止返贫动态监测帮扶机制；主要内容：")
    # a label split by a cell wrap ("着力提升整体 发展水平") is closed up
    assert row_fields(table_row(first, "25", "附件4"))["名称"] == "着力提升整体发展水平"


def test_repeated_table_header_is_not_a_data_row(parsed, docs):
    rows = [b for b in blocks_of(docs) if b.kind == "table_row"]
    assert not any("名称：名称" in b.text or "序号：序号" in b.text for b in rows)
    repeated = [no for no, why in parsed.artifact_lines.items() if why == "repeated table header"]
    assert 271 in repeated  # line 272: "名称	序号	重点任务	主要内容	责任单位"
    first = by_number(docs, "青党发〔2021〕16号")
    seqs = [row_fields(b)["序号"] for b in first.blocks if b.kind == "table_row" and "附件4" in b.section[0]]
    assert seqs == [str(n) for n in range(1, 81)]


def test_broken_table_rows_are_mended(text, docs):
    first = by_number(docs, "青党发〔2021〕16号")
    # a content line without number followed by a line holding only "17"
    r17 = table_row(first, "17", "附件4")
    assert row_fields(r17)["主要内容"].startswith("加强社会救助资源统筹")
    assert text[r17.char_start : r17.char_end].endswith("\n\t17")
    # "18" landed in the 名称 column and the content in 重点任务
    r18 = row_fields(table_row(first, "18", "附件4"))
    assert r18["主要内容"].startswith("对基本生活陷入暂时困难的群众") and r18["重点任务"] == "分层分类实施社会救助"
    # a row shifted one column to the right
    r22 = row_fields(table_row(first, "22", "附件4"))
    assert r22["重点任务"] == "完善养老保障和儿童关爱服务" and r22["责任单位"].startswith("市人力资源和社会保障局")
    # a stray one-cell line belongs to the row above, in its empty column
    assert row_fields(table_row(first, "38", "附件4"))["责任单位"] == "农业农村局"


def test_numbers_are_never_carried_into_a_short_row(docs):
    plan = by_number(docs, "青党办〔2021〕46号")
    gdp = next(b for b in plan.blocks if b.kind == "table_row" and "地区生产总值" in b.text)
    fields = row_fields(gdp)
    assert fields["类别"] == "经济转型发展" and fields["2020年实际指标"] == "131.5"
    assert "2021年预计指标" not in fields and "配合部门" not in fields


def test_cells_missing_from_a_cut_row_are_not_carried():
    text = (
        "某政发〔2022〕5号\n\n各乡镇：\n\n现印发给你们。\n\n某某县人民政府\n\n2022年1月2日\n\n清单\n\n"
        "序号\t重点任务\t实施内容\t重点项目\t牵头部门\n"
        "1\t治理水体\t建成污水处理厂一座并投入运行\t第二污水处理厂\t住建局\n"
        "2\t\t实施管网改造工程，改造老旧管网十公里\t\t\n"  # merged cells: carried
        "3\t治理土壤\t完成土壤调查，查明污染源\n"  # cut short by the page: nothing carried
    )
    (doc,) = parse_gazette_text(text, "cut.txt")
    rows = [b.text for b in doc.blocks if b.kind == "table_row"]
    assert rows[1] == "序号：2；重点任务：治理水体；实施内容：实施管网改造工程，改造老旧管网十公里；重点项目：第二污水处理厂；牵头部门：住建局"
    assert rows[2] == "序号：3；重点任务：治理土壤；实施内容：完成土壤调查，查明污染源"


# --- offsets and coverage -------------------------------------------------------------------------


def test_every_block_points_at_its_source(text, docs):
    for doc in docs:
        previous: dict[str, str] = {}
        for b in doc.blocks:
            assert 0 <= b.char_start < b.char_end <= len(text)
            src = spaceless(text[b.char_start : b.char_end])
            if b.kind != "table_row":
                assert spaceless(b.text)[:10] in src, b.text[:40]
                continue
            # every value of a row is in its source lines, or was carried down from the row above
            for name, value in row_fields(b).items():
                assert spaceless(value)[:10] in src or previous.get(name) == value, (name, value)
            previous = row_fields(b)


def test_every_content_line_is_covered(text, parsed):
    covered = sorted((b.char_start, b.char_end) for b in blocks_of(parsed.documents))
    pos = 0
    missing = []
    for no, line in enumerate(text.split("\n")):
        start = pos + len(line) - len(line.lstrip())
        pos += len(line) + 1
        if not line.strip() or no in parsed.artifact_lines:
            continue
        if not any(s <= start < e for s, e in covered):
            missing.append((no + 1, line[:30]))
    assert missing == []
    assert set(parsed.artifact_lines.values()) <= {
        "page footer", "page number", "page header", "repeated TOC heading", "table header", "repeated table header"
    }


def test_blocks_do_not_overlap(docs):
    spans = sorted((b.char_start, b.char_end) for b in blocks_of(docs))
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


# --- small inline gazettes --------------------------------------------------------------------------

MINI = """某某县人民政府公报

2022年 第 1 期

目 录

【政府文件】

某某县人民政府关于印发《某某县2022年工作方案》的通知 某政发〔2022〕3号\t(1)

某某县人民政府

关于印发《某某县 2022 年工作方案》的通知

某政发〔2022〕3号

各乡镇人民政府，县直各部门：

现将《某某县2022年工作方案》印发给你们，请认真贯彻执行。

某某县人民政府

2022年3月5日

某某县 2022 年工作方案

一、主要任务

（一）改善农村人居环境

1. 实施垃圾治理工程。推进农村生活垃圾分类，建设转运站

发布政令 宣传政策 指导工作 服务社会

3 座，实现全覆盖。

牵头单位：县住建局

配合单位：各乡

镇人民政府

2. 加强宣传。

责任单位：县委宣传部

附件：1. 重点任务清单

附件 1

重点任务清单

序号\t重点任务\t责任单位
1\t垃圾治理\t县住建局
2\t\t县农业农村局

序号\t重点任务\t责任单位
3\t宣传教育\t县委宣传部
"""


def test_inline_gazette():
    result = analyse_gazette_text(MINI, "mini.txt")
    front, doc = result.documents
    assert front.title == "某某县人民政府公报 2022年第1期 目录"
    assert (doc.doc_number, doc.date, doc.issuer, doc.category) == ("某政发〔2022〕3号", "2022-03-05", "某某县人民政府", "政府文件")
    assert doc.title == "某某县2022年工作方案"
    assert doc.addressees == "各乡镇人民政府，县直各部门"
    item = next(b for b in doc.blocks if b.text.startswith("1. 实施垃圾治理工程"))
    assert item.text == (
        "1. 实施垃圾治理工程。推进农村生活垃圾分类，建设转运站3座，实现全覆盖。\n牵头单位：县住建局\n配合单位：各乡镇人民政府"
    )
    assert item.section == ["一、主要任务", "（一）改善农村人居环境", "1."]
    rows = [b.text for b in doc.blocks if b.kind == "table_row"]
    assert rows == [
        "序号：1；重点任务：垃圾治理；责任单位：县住建局",
        "序号：2；重点任务：垃圾治理；责任单位：县农业农村局",
        "序号：3；重点任务：宣传教育；责任单位：县委宣传部",
    ]
    assert all(b.section == ["附件1 重点任务清单"] for b in doc.blocks if b.kind == "table_row")
    assert "page footer" in result.artifact_lines.values()


def test_crlf_file_offsets(tmp_path):
    path = tmp_path / "mini-crlf.txt"
    path.write_bytes(MINI.replace("\n", "\r\n").encode("utf-8"))
    docs = read_gazette(path)
    with open(path, encoding="utf-8", newline="") as f:
        raw = f.read()
    item = next(b for b in docs[1].blocks if b.text.startswith("1. 实施垃圾治理工程"))
    assert raw[item.char_start : item.char_end].startswith("1. 实施垃圾治理工程")
    assert raw[item.char_start : item.char_end].endswith("镇人民政府")


def test_notice_without_toc_or_inner_title():
    text = (
        "某某县人民政府办公室\n关于做好防汛工作的通知\n\n某政办发〔2022〕7号\n\n各乡镇：\n\n"
        "为做好防汛工作，现通知如下。\n\n一、加强值守\n\n汛期实行24小时值班。\n\n"
        "某某县人民政府办公室\n2022年6月1日\n"
    )
    (doc,) = parse_gazette_text(text, "notice.txt")
    assert doc.title == "某某县人民政府办公室关于做好防汛工作的通知"
    assert (doc.doc_number, doc.date, doc.issuer, doc.addressees) == ("某政办发〔2022〕7号", "2022-06-01", "某某县人民政府办公室", "各乡镇")
    duty = next(b for b in doc.blocks if b.text == "汛期实行24小时值班。")
    assert duty.section == ["一、加强值守"]


def test_short_item_heading_followed_by_text_vs_cut_item():
    text = (
        "某政发〔2022〕9号\n\n各乡镇：\n\n现印发给你们。\n\n某某县人民政府\n\n2022年1月2日\n\n工作方案\n\n"
        "一、实施进程\n\n（一）2022年4月1日至4月30日，完成全部注销和变更工作，并报县水务局备案审查通过后实施。\n\n"
        "（二）2022年5月1日至5月30日,各\n\n乡镇开展工作。\n\n二、保障措施\n\n（一）加强领导\n\n各乡镇要高度重视。\n"
    )
    (doc,) = parse_gazette_text(text, "plan.txt")
    cut = next(b for b in doc.blocks if b.text.startswith("（二）2022年5月1日"))
    assert cut.kind == "paragraph" and cut.text.endswith("各乡镇开展工作。") and cut.section == ["一、实施进程", "（二）"]
    lead = next(b for b in doc.blocks if b.text == "（一）加强领导")
    assert lead.kind == "heading"
    assert next(b for b in doc.blocks if b.text == "各乡镇要高度重视。").section == ["二、保障措施", "（一）加强领导"]


# --- helpers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, iso",
    [
        ("2021年5月12日", "2021-05-12"),
        ("2021 年 6 月 1 日", "2021-06-01"),
        ("二〇二一年六月十一日", "2021-06-11"),
        ("二〇二一年十二月三十一日", "2021-12-31"),
        ("2021年2月30日", None),
        ("明年", None),
    ],
)
def test_parse_cn_date(written, iso):
    assert parse_cn_date(written) == iso


@pytest.mark.parametrize(
    "written, canonical",
    [
        ("青政办发〔2021〕14号", "青政办发〔2021〕14号"),
        ("青党办〔2021〕46号", "青党办〔2021〕46号"),
        ("青党办[2021]30号", "青党办〔2021〕30号"),
        ("青政发〔 2021 〕 23 号", "青政发〔2021〕23号"),
        ("宁政办发（2017）94号", "宁政办发〔2017〕94号"),
    ],
)
def test_doc_number_variants(written, canonical):
    assert doc_number_of_line(written) == canonical
    assert DOC_NUMBER_RE.search(f"根据（{written}）要求") is not None


def test_find_doc_numbers_in_a_sentence():
    sentence = "根据《…意见》（宁党发〔2021〕15号）和《…意见》（吴党发〔2021〕12号）部署要求"
    assert find_doc_numbers(sentence) == ["宁党发〔2021〕15号", "吴党发〔2021〕12号"]
    assert doc_number_of_line(sentence) is None


@pytest.mark.parametrize(
    "line, expected",
    [
        ("一、总体目标", (1, "一、")),
        ("（三）着力提升整体发展水平", (2, "（三）")),
        ("(二) 自查整改阶段", (2, "(二)")),
        ("14. 持续改善基础设施条件。", (3, "14.")),
        ("1、加强领导", (3, "1、")),
        ("3．落实责任", (3, "3.")),
        ("(1) 在城市出入口", (4, "(1)")),
        ("（12）各部门", (4, "（12）")),
        ("附件1", (0, "附件1")),
        ("附件 4", (0, "附件4")),
        ("附件", (0, "附件")),
        ("附件：1. 名词解释", None),
        ("1.5 倍左右", None),
        ("2021年底，全灌区完成", None),
        ("（此件公开发布）", None),
        ("（0953）3050582", None),
    ],
)
def test_heading_level(line, expected):
    assert heading_level(line) == expected


def test_unit_lines_and_repairs():
    assert is_unit_line("牵头单位：市爱卫会办公室")
    assert is_unit_line("配合单位: 市疾控中心")
    assert is_unit_line("完成时限：4月底")
    assert is_unit_line("（牵头单位：农业农村局；责任单位：自然资源局）")
    assert not is_unit_line("主要职责：负责指导")
    assert repair_text("青铜峡市 2021 年国家卫生城市 复审") == "青铜峡市2021年国家卫生城市 复审"
    assert repair_text("调转增融 “四篇文章”") == "调转增融“四篇文章”"
    assert repair_text("32 微克 / 立方米，PM_{2.5}，满意率 $\\geq 90\\%$ 。") == "32微克/立方米，PM2.5，满意率≥90%。"
    assert repair_text("1. 保持稳定") == "1. 保持稳定"


def test_stable_doc_id():
    a = stable_doc_id("a.txt", "青政办发〔2021〕14号")
    assert a == stable_doc_id("a.txt", "青政办发[2021]14号")
    assert re.fullmatch(r"doc-2021-14-[0-9a-f]{8}", a)
    assert a != stable_doc_id("a.txt", "青党办〔2021〕14号") != stable_doc_id("b.txt", "青政办发〔2021〕14号")
    assert re.fullmatch(r"doc-[0-9a-f]{10}", stable_doc_id("a.txt", title="目录"))
