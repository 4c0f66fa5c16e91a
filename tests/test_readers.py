"""Tests of the .md, .docx and .pdf readers, on a real law file and on Word / PDF files made here
from the real gazette text, plus broken files and the indexer's handling of them."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from qa.indexer import discover, read_corpus
from qa.readers import SUPPORTED_SUFFIXES, UnreadableDocument, read_file, source_text
from qa.readers.common import spaceless
from qa.readers.markdown import parse_markdown_text

ROOT = Path(__file__).resolve().parents[1]
GAZETTE = ROOT / "corpus" / "qingtongxia-gazette-2021-02.txt"
LAWS = Path(os.environ.get("QA_LAWS_SAMPLE", ROOT.parent / "shared" / "corpora" / "laws-sample"))  # ../shared beside the repository
LAW_GD = LAWS / "DLC/广东地方法规/地方性法规/广东/广东省粤菜发展促进条例(2022-11-30).md"
LAW_MED = LAWS / "行政法规/医疗器械监督管理条例(2021-02-09).md"
LAW_BJ = LAWS / "DLC/北京地方法规/地方性法规/北京/北京市院前医疗急救服务条例.md"  # no date in the name

needs_laws = pytest.mark.skipif(not LAW_GD.exists(), reason=f"law sample not found under {LAWS}")


def _assert_offsets(docs, text: str) -> None:
    """Every block's span shows its text in the source, up to whitespace (tables: every cell)."""
    for doc in docs:
        for b in doc.blocks:
            assert 0 <= b.char_start < b.char_end <= len(text), b
            src = text[b.char_start : b.char_end]
            if b.kind == "table_row":
                for value in re.split("[；]", b.text):
                    assert spaceless(value.split("：", 1)[-1]) in spaceless(text), value
            else:
                assert spaceless(src) == spaceless(b.text), (b.text[:40], src[:40])


def _block(doc, startswith: str):
    return next(b for b in doc.blocks if b.text.startswith(startswith))


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


@needs_laws
def test_law_markdown_metadata_and_articles():
    [doc] = read_file(LAW_GD, "广东/" + LAW_GD.name)
    assert doc.title == "广东省粤菜发展促进条例"
    assert doc.date == "2022-11-30"
    assert doc.issuer == "广东省第十三届人民代表大会常务委员会"
    assert doc.doc_number is None
    assert re.fullmatch(r"doc-[0-9a-f]{10}", doc.doc_id)
    text = source_text(LAW_GD)
    _assert_offsets([doc], text)
    # 第二条 has two 款: one block, joined with "\n", whose span covers both
    art2 = _block(doc, "第二条")
    assert art2.section == ["第二条"] and art2.kind == "paragraph"
    assert art2.text.count("\n") == 1 and "本条例所称粤菜" in art2.text
    assert text[art2.char_start : art2.char_end].startswith("第二条 本条例适用于")
    assert text[art2.char_end - 1] == "。" and "特色风味菜。" in text[art2.char_start : art2.char_end]


@needs_laws
def test_law_chapters_give_the_citation_path():
    [doc] = read_file(LAW_MED, LAW_MED.name)
    assert (doc.title, doc.date, doc.issuer) == ("医疗器械监督管理条例", "2021-02-09", "国务院")
    text = source_text(LAW_MED)
    _assert_offsets([doc], text)
    art = _block(doc, "第三十条")
    assert art.section == ["第三章 医疗器械生产", "第三十条"]
    assert " > ".join(art.section) == "第三章 医疗器械生产 > 第三十条"
    chapter = _block(doc, "第三章")
    assert chapter.kind == "heading" and text[chapter.char_start : chapter.char_end] == "第三章 医疗器械生产"
    assert not any(b.section and b.section[0].startswith("第二章") for b in doc.blocks if b.char_start > chapter.char_start)


@needs_laws
def test_law_without_date_in_file_name_uses_the_first_dated_line_and_closes_letter_spacing():
    [doc] = read_file(LAW_BJ, LAW_BJ.name)
    assert doc.date == "2016-07-22"
    assert doc.issuer == "北京市第十四届人民代表大会常务委员会"
    assert _block(doc, "第一条").section == ["第一章 总则", "第一条"]  # "第一章　总　　则" in the file


def test_generic_markdown_headings_lists_tables_and_front_matter():
    md = (
        "---\ntitle: 青铜峡市政务公开工作要点\ndate: 2021-06-16\n文号: 青政办发〔2021〕18号\n---\n"
        "# 一级标题\n\n## 一、总体要求\n\n坚持以人民为中心。\n继续深化。\n\n"
        "### 重点任务\n\n- 推进决策公开\n- 推进执行公开\n\n"
        "| 序号 | 任务 | 责任单位 |\n|---|:---|---|\n| 1 | 决策公开 | 市政府办 |\n| 2 | 执行公开 |  |\n\n"
        "## 二、保障措施\n\n第一条 不是法规也照样成条。\n\n第二款内容。\n"
    )
    doc = parse_markdown_text(md, "要点.md")
    assert (doc.title, doc.date, doc.doc_number) == ("青铜峡市政务公开工作要点", "2021-06-16", "青政办发〔2021〕18号")
    assert doc.doc_id.startswith("doc-2021-18-")
    _assert_offsets([doc], md)
    para = _block(doc, "坚持以人民为中心")
    assert para.section == ["一、总体要求"]  # the first "# " is a title, not a section and para.text == "坚持以人民为中心。\n继续深化。"
    lst = _block(doc, "- 推进决策公开")
    assert lst.text == "- 推进决策公开\n- 推进执行公开" and lst.section[-1] == "重点任务"
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [r.text for r in rows] == ["序号：1；任务：决策公开；责任单位：市政府办", "序号：2；任务：执行公开"]
    assert md[rows[0].char_start : rows[0].char_end] == "| 1 | 决策公开 | 市政府办 |"
    art = _block(doc, "第一条")
    assert art.section == ["二、保障措施", "第一条"] and art.text.endswith("\n第二款内容。")


def test_empty_markdown_is_unreadable(tmp_path):
    empty = tmp_path / "空白.md"
    empty.write_text("  \n\n", encoding="utf-8")
    with pytest.raises(UnreadableDocument, match="空白.md"):
        read_file(empty, empty.name)


# ---------------------------------------------------------------------------------------------
# Word and PDF fixtures made from the real gazette text
# ---------------------------------------------------------------------------------------------


def _gazette_lines() -> list[str]:
    return GAZETTE.read_text(encoding="utf-8").split("\n")


def _first_notice() -> dict:
    """The first notice of the issue: its parts as printed (page-break cuts joined)."""
    lines = _gazette_lines()
    body = lines.index("青党发〔2021〕16号", 60)  # the body's 文号 line, not the TOC's

    def line(prefix: str) -> str:
        return next(ln for ln in lines[body:] if ln.startswith(prefix))

    def paragraph(prefix: str) -> str:  # a paragraph a page break cut in two: join the pieces
        i = next(k for k in range(body, len(lines)) if lines[k].startswith(prefix))
        return lines[i] + lines[i + 2]

    table_at = lines.index("名称\t序号\t重点任务\t主要内容\t责任单位")
    return {
        "title_lines": [lines[body - 4], lines[body - 2]],  # 青铜峡市委 人民政府 / 关于印发《…》的通知
        "title": lines[body - 4] + lines[body - 2],
        "number": lines[body],
        "addressees": line("各镇、街道"),
        "notice": line("《关于实现巩固拓展"),
        "issuers": [line("中共青铜峡市委员会"), line("青铜峡市人民政府")],
        "date": line("2021年6月11日"),
        "inner": line("关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案"),
        "goal": paragraph("将巩固拓展脱贫攻坚成果放在突出位置"),
        "item1": paragraph("1. 保持主要帮扶政策总体稳定"),
        "item2": line("2. 健全防止返贫动态监测帮扶机制"),
        "sub": line("（一）建立健全巩固拓展脱贫攻坚成果长效帮扶机制"),
        "table": [lines[k].split("\t") for k in range(table_at, table_at + 5)],
        "measures": line("三、保障措施"),
    }


@pytest.fixture(scope="module")
def notice() -> dict:
    return _first_notice()


def make_docx(path: Path, n: dict) -> Path:
    import docx

    d = docx.Document()
    d.add_paragraph(n["title"], style="Title")
    for key in ("number", "addressees", "notice"):
        d.add_paragraph(n[key])
    for issuer in n["issuers"]:
        d.add_paragraph(issuer)
    d.add_paragraph(n["date"])
    d.add_paragraph(n["inner"])
    d.add_heading("一、总体目标", level=1)
    d.add_paragraph(n["goal"])
    d.add_heading("二、主要任务", level=1)
    d.add_heading(n["sub"], level=2)
    d.add_paragraph(n["item1"])
    d.add_paragraph("牵头单位：市乡村振兴局")
    d.add_paragraph(n["item2"])
    rows = n["table"]
    table = d.add_table(rows=len(rows), cols=len(rows[0]))
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            if value:
                table.cell(r, c).text = value
    table.cell(1, 0).merge(table.cell(2, 0))  # 名称 merged over rows 1-2 the Word way…
    table.cell(1, 2).merge(table.cell(2, 2))  # …and 重点任务 / 责任单位 too; rows 3-4 leave 名称 blank
    table.cell(1, 4).merge(table.cell(2, 4))
    for r, c in ((1, 0), (1, 2), (1, 4)):
        table.cell(r, c).text = rows[r][c]
    d.add_paragraph(n["measures"])  # unstyled "三、" after styled "二、": a sibling, not a child
    d.add_paragraph("加强组织领导。")
    d.save(str(path))
    return path


def test_docx_metadata_sections_and_offsets(tmp_path, notice):
    path = make_docx(tmp_path / "通知.docx", notice)
    [doc] = read_file(path, path.name)
    assert doc.title == notice["title"]
    assert doc.doc_number == "青党发〔2021〕16号" and doc.doc_id.startswith("doc-2021-16-")
    assert doc.date == "2021-06-11"
    assert doc.issuer == "中共青铜峡市委员会 青铜峡市人民政府"
    assert doc.addressees and doc.addressees.startswith("各镇、街道")
    text = source_text(path)
    assert text.split("\n")[0] == notice["title"]  # paragraphs joined by "\n"
    _assert_offsets([doc], text)
    assert _block(doc, "将巩固拓展").section == ["一、总体目标"]
    item = _block(doc, "1. 保持主要帮扶政策总体稳定")
    assert item.section == ["二、主要任务", notice["sub"], "1."]
    assert item.text.endswith("\n牵头单位：市乡村振兴局")  # the unit line joins its item
    assert _block(doc, "2. 健全").section == ["二、主要任务", notice["sub"], "2."]
    assert _block(doc, "加强组织领导").section == ["三、保障措施"]


def test_docx_table_rows_carry_merged_cells_forward(tmp_path, notice):
    path = make_docx(tmp_path / "通知.docx", notice)
    [doc] = read_file(path, path.name)
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert len(rows) == 4  # the header row names the cells, it is no row of its own
    assert all(r.section == ["二、主要任务", notice["sub"]] for r in rows)  # not under item "2."
    name, task = notice["table"][1][0], notice["table"][1][2]
    assert rows[0].text.startswith(f"名称：{name}；序号：1；重点任务：{task}；主要内容：")
    # row 2: 名称, 重点任务 and 责任单位 are merged with row 1 in Word
    assert rows[1].text.startswith(f"名称：{name}；序号：2；重点任务：{task}；主要内容：对脱贫不稳定户")
    assert f"责任单位：{notice['table'][1][4]}" in rows[1].text
    # rows 3-4: 名称 left blank by hand -> carried; row 4's 重点任务 was never filled -> stays out
    assert rows[3].text.startswith(f"名称：{name}；序号：4；主要内容：")
    text = source_text(path)
    assert text[rows[1].char_start : rows[1].char_end].startswith("2\t\t对脱贫不稳定户")  # as printed


def _pdf_lines(text: str, width: int = 34) -> list[str]:
    return [text[k : k + width] for k in range(0, len(text), width)]


def make_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A text PDF, one list of lines a page, set in reportlab's built-in CJK font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    for lines in pages:
        c.setFont("STSong-Light", 11)
        y = 800
        for line in lines:
            c.drawString(40, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def test_pdf_gazette_notice_over_two_pages(tmp_path, notice):
    page1 = [*notice["title_lines"], notice["number"], *_pdf_lines(notice["addressees"]),
             *_pdf_lines(notice["notice"]), *notice["issuers"], notice["date"], notice["inner"], "一、总体目标",
             *_pdf_lines(notice["goal"][:200])]
    page2 = ["二、主要任务", notice["sub"], *_pdf_lines(notice["item1"][:300])]
    path = make_pdf(tmp_path / "通知.pdf", [page1, page2])
    text = source_text(path)
    assert notice["number"] in text and "巩固拓展脱贫攻坚成果" in text  # pypdf gives the Chinese back
    docs = read_file(path, path.name)
    assert len(docs) == 1  # one notice, no cover or TOC
    doc = docs[0]
    assert doc.doc_number == "青党发〔2021〕16号" and doc.date == "2021-06-11"
    assert doc.issuer == "中共青铜峡市委员会 青铜峡市人民政府"
    assert doc.title == "关于实现巩固拓展脱贫攻坚成果同乡村振兴有效衔接实施方案"  # the issued text, as .txt
    _assert_offsets(docs, text)
    assert all(b.page in (1, 2) for d in docs for b in d.blocks)
    assert _block(doc, "一、总体目标").page == 1
    item = _block(doc, "1. 保持主要帮扶政策总体稳定")
    assert item.page == 2 and item.section == ["二、主要任务", notice["sub"], "1."]
    assert text[item.char_start : item.char_end].replace("\n", "").startswith("1. 保持主要帮扶政策总体稳定")
    # the page-2 text starts where pypdf's page 2 starts
    assert text.index("二、主要任务") > text.index(notice["goal"][:10])


def test_pdf_without_number_is_read_as_plain_paragraphs(tmp_path, notice):
    long = notice["goal"][:120]
    path = make_pdf(tmp_path / "方案.pdf", [[notice["inner"], "一、总体目标", *_pdf_lines(long)],
                                           ["二、主要任务", *_pdf_lines(notice["item2"][:100])]])
    [doc] = read_file(path, path.name)
    assert doc.title == notice["inner"] and doc.doc_number is None
    goal = _block(doc, long[:10])
    assert goal.text == long and goal.section == ["一、总体目标"] and goal.page == 1  # wrapped lines joined
    assert _block(doc, "二、主要任务").page == 2
    assert _block(doc, "2. 健全").section == ["二、主要任务", "2."]
    _assert_offsets([doc], source_text(path))


# ---------------------------------------------------------------------------------------------
# Broken files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, reason", [
    ("坏.docx", "corrupt zip"),
    ("坏.pdf", "not a readable PDF"),
])
def test_random_bytes_are_unreadable(tmp_path, name, reason):
    path = tmp_path / name
    path.write_bytes(os.urandom(2048))
    with pytest.raises(UnreadableDocument, match=rf"{re.escape(name)}.*{reason}"):
        read_file(path, name)


def test_pdf_without_text_layer(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "扫描件.pdf"
    c = canvas.Canvas(str(path))
    c.rect(50, 50, 300, 300, fill=1)  # a "scan": marks on the page, no text
    c.showPage()
    c.save()
    with pytest.raises(UnreadableDocument, match=r"扫描件.pdf: no text layer \(scanned\?\)"):
        read_file(path, path.name)


def test_encrypted_pdf(tmp_path, notice):
    from pypdf import PdfReader, PdfWriter

    plain = make_pdf(tmp_path / "明文.pdf", [[notice["inner"]]])
    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    path = tmp_path / "加密.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    with pytest.raises(UnreadableDocument, match=r"加密.pdf: encrypted PDF"):
        read_file(path, path.name)


def test_docx_zip_without_document_part(tmp_path):
    import zipfile

    path = tmp_path / "空壳.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a word document")
    with pytest.raises(UnreadableDocument, match="空壳.docx"):
        read_file(path, path.name)


def test_indexer_skips_broken_files_and_reads_the_rest(tmp_path, notice):
    folder = tmp_path / "corpus"
    (folder / "法规").mkdir(parents=True)
    make_docx(folder / "通知.docx", notice)
    make_pdf(folder / "方案.pdf", [[notice["inner"], "一、总体目标", *_pdf_lines(notice["goal"][:80])]])
    (folder / "法规" / "空白.md").write_text("", encoding="utf-8")
    (folder / "坏.pdf").write_bytes(b"%PDF-1.4 truncated")
    (folder / "坏.docx").write_bytes(os.urandom(512))
    if LAW_GD.exists():
        shutil.copy(LAW_GD, folder / "法规" / LAW_GD.name)
    assert {".md", ".docx", ".pdf", ".txt"} <= set(SUPPORTED_SUFFIXES)

    documents, chunks, corpus, skipped, _texts = read_corpus(discover([folder]))
    skipped_names = {name for name, _ in skipped}
    assert skipped_names == {"坏.pdf", "坏.docx", str(Path("法规") / "空白.md")}
    assert all(name.split("/")[-1] in why for name, why in skipped)
    read = {entry["source"] for entry in corpus}
    assert {"通知.docx", "方案.pdf"} <= read
    pdf_doc = next(d for d in documents if d.source == "方案.pdf")
    pdf_chunks = [c for c in chunks if c.doc_id == pdf_doc.doc_id]
    assert pdf_chunks and all(c.page == 1 for c in pdf_chunks)  # citation.page comes from here
    docx_doc = next(d for d in documents if d.source == "通知.docx")
    docx_text = source_text(folder / "通知.docx")
    item = next(c for c in chunks if c.doc_id == docx_doc.doc_id and c.section and c.section[-1] == "1.")
    shown = docx_text[item.char_start : item.char_end]  # the headings open the item's chunk
    assert shown.startswith("二、主要任务\n") and "\n1. 保持主要帮扶政策总体稳定" in shown
    assert shown.endswith("牵头单位：市乡村振兴局")
    if LAW_GD.exists():
        law = next(d for d in documents if d.title == "广东省粤菜发展促进条例")
        law_chunks = [c for c in chunks if c.doc_id == law.doc_id]
        text = source_text(folder / "法规" / LAW_GD.name)
        first = next(c for c in law_chunks if c.section_path == "第一条")
        assert text[first.char_start : first.char_end].startswith("第一条")
