"""Article addressing: numerals, law names (full and short), and the exact lookup path in retrieval,
on a real index (markdown reader, chunker, jieba, bm25s, FAISS, e5) of laws written for the test."""
from __future__ import annotations

import pytest

from qa.articles import ArticleCatalog, article_key, parse_article_refs, parse_number, title_aliases
from qa.model import Chunk, Document

BODY_WORDS = ["用人单位", "劳动者", "试用期", "工资", "培训", "保密", "竞业限制", "违约金", "社会保险",
              "工作时间", "休息休假", "劳动保护", "职业危害", "经济补偿", "解除合同"]


@pytest.mark.parametrize("text, value", [
    ("十九", 19), ("十", 10), ("一百二十", 120), ("二百六十四", 264), ("两百", 200), ("一千二百六十", 1260),
    ("一百零八", 108), ("19", 19), ("１９", 19), ("条", None), ("", None),
])
def test_numerals(text, value):
    assert parse_number(text) == value


def test_article_references_with_sub_article_paragraph_and_item():
    refs = parse_article_refs("刑法第二百六十四条之一第二款第（三）项怎么规定的？")
    assert [(r.number, r.sub, r.paragraph, r.item) for r in refs] == [(264, 1, 2, 3)]
    refs = parse_article_refs("第19条和第一百二十条有什么区别")
    assert [r.key for r in refs] == [(19, 0), (120, 0)]
    assert [r.number for r in parse_article_refs("第十九条至第二十一条")] == [19, 20, 21]
    assert parse_article_refs("第一章总则讲什么") == []
    assert parse_article_refs("第二百六十四条之一")[0].label == "第二百六十四条之一"


def test_section_labels_are_article_keys():
    assert article_key("第二百六十四条之一") == (264, 1)
    assert article_key("第十九条") == (19, 0)
    assert article_key("第一章 总则") is None
    assert article_key("（三）") is None


def test_short_law_names():
    names = title_aliases("中华人民共和国劳动合同法（2012修正）")
    assert {"劳动合同法", "中华人民共和国劳动合同法"} <= names
    assert "上海生活垃圾管理条例" in title_aliases("上海市生活垃圾管理条例")
    assert "无人驾驶航空器飞行管理条例" in title_aliases("无人驾驶航空器飞行管理暂行条例")
    assert title_aliases("城市绿化条例") == {"城市绿化条例"}  # 城市 is not a place name to strip


def _catalog(titles_dates: list[tuple[str, str | None]], articles: int = 3) -> ArticleCatalog:
    docs, chunks = {}, []
    for i, (title, date) in enumerate(titles_dates):
        doc_id = f"d{i}"
        docs[doc_id] = Document(doc_id=doc_id, title=title, source=f"{i}.md", date=date)
        for n in range(1, articles + 1):
            label = f"第{'一二三四五六七八九'[n - 1]}条"
            chunks.append(Chunk(chunk_id=len(chunks), doc_id=doc_id, text=f"{label} {title}的条文{n}。",
                                section=["第一章 总则", label], char_start=0, char_end=1))
    return ArticleCatalog(docs, chunks)


def test_the_longest_name_wins_and_each_reference_takes_the_nearest_law_before_it():
    cat = _catalog([("中华人民共和国合同法", "1999-03-15"), ("中华人民共和国劳动合同法", "2012-12-28")])
    assert [law.name for law in cat.named_laws("劳动合同法第二条")] == ["中华人民共和国劳动合同法"]
    rows = cat.lookup("《合同法》第一条和劳动合同法第三条")
    assert [cat.chunks[r].text[:3] + cat.chunks[r].doc_id for r in rows] == ["第一条d0", "第三条d1"]
    # a law named in 《》 that the index does not hold finds nothing (not another law's article)
    assert cat.lookup("《民法典》第二条") == []
    # no law named, no document in scope: nothing to look up
    assert cat.lookup("第二条是什么") == []
    assert [cat.chunks[r].doc_id for r in cat.lookup("第二条是什么", default_docs=["d1"])] == ["d1"]


def test_versions_newest_first_and_a_named_year_first():
    cat = _catalog([("中华人民共和国劳动合同法", "2007-06-29"), ("中华人民共和国劳动合同法（2012修正）", "2012-12-28")])
    assert len(cat) == 1
    assert [cat.chunks[r].doc_id for r in cat.lookup("劳动合同法第二条")] == ["d1", "d0"]
    assert [cat.chunks[r].doc_id for r in cat.lookup("2007年的劳动合同法第二条")] == ["d0", "d1"]
    assert cat.version_info("d1") == {"version": "2012修正", "latest": True, "latest_doc_id": "d1", "versions": 2}
    assert cat.version_info("d0")["latest"] is False


# -- the exact lookup path, end to end ------------------------------------------------------------


def _law_markdown(title: str, header: str, n_articles: int, variant: str) -> str:
    lines = [f"# {title}", "", header, "", "<!-- INFO END -->", "", "## 第一章 总则", ""]
    from cn2an import an2cn

    for n in range(1, n_articles + 1):
        words = "、".join(BODY_WORDS[(n + k) % len(BODY_WORDS)] for k in range(3))
        lines += [f"第{an2cn(n)}条 {variant}第{n}号规则：有关{words}的事项，依照本法办理。", ""]
        if n == 264:
            lines += [f"第二百六十四条之一 {variant}补充规则：盗窃{words}的，从重处罚。", "",
                      "有前款行为，情节轻微的，可以从轻处罚。", ""]
    lines += ["第" + an2cn(n_articles + 1) + "条 违反本法第十九条规定的，由劳动行政部门责令改正，处以罚款。", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def law_service(tmp_path_factory, embedder):
    from qa.service import QAService
    from qa.settings import Settings

    corpus = tmp_path_factory.mktemp("laws")
    (corpus / "中华人民共和国示范劳动法(2007-06-29).md").write_text(
        _law_markdown("中华人民共和国示范劳动法", "2007年6月29日 第十届全国人民代表大会常务委员会第二十八次会议通过",
                      270, "旧版"), encoding="utf-8")
    (corpus / "中华人民共和国示范劳动法(2012-12-28).md").write_text(
        _law_markdown("中华人民共和国示范劳动法", "2012年12月28日 第十一届全国人民代表大会常务委员会第三十次会议修正",
                      270, "新版"), encoding="utf-8")
    # a passage that repeats the question's words far more than the article does
    (corpus / "说明.md").write_text("# 示范劳动法学习资料\n\n示范劳动法第十九条的内容是什么？学习示范劳动法第十九条，"
                                    "理解示范劳动法的内容。\n", encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("law-index"), embedder="e5-onnx")
    svc = QAService(settings, embedder)
    svc.build(progress=False)
    return svc


def test_a_named_article_comes_first_newest_version_first(law_service):
    hits = law_service.search("《示范劳动法》第十九条的内容是什么？", top_k=5).hits
    assert hits[0].chunk.section[-1] == "第十九条" and hits[0].chunk.text.startswith("第十九条 新版第19号规则")
    assert hits[0].match == "article"
    # the older version is reachable right after
    assert hits[1].chunk.text.startswith("第十九条 旧版第19号规则") and hits[1].match == "article"
    assert all(h.match is None for h in hits[2:])
    cite = law_service.citation(hits[0].chunk)
    assert cite["version"] == "2012-12-28" and cite["latest_version"] is True
    assert law_service.citation(hits[1].chunk)["latest_version"] is False


def test_short_names_arabic_numerals_and_sub_articles(law_service):
    for q in ["示范劳动法第19条怎么规定的", "中华人民共和国示范劳动法第十九条"]:
        assert law_service.search(q, top_k=3).hits[0].chunk.text.startswith("第十九条 新版")
    hit = law_service.search("示范劳动法第二百六十四条之一第二款", top_k=3).hits[0]
    assert hit.chunk.section[-1] == "第二百六十四条之一" and "新版补充规则" in hit.chunk.text
    # a year picks the version
    assert law_service.search("2007年示范劳动法第十九条", top_k=3).hits[0].chunk.text.startswith("第十九条 旧版")


def test_a_violated_article_brings_its_penalty_clause_first(law_service):
    hits = law_service.search("违反示范劳动法第十九条会怎么处罚？", top_k=4).hits
    assert "违反本法第十九条规定" in hits[0].chunk.text
    assert any(h.chunk.text.startswith("第十九条 新版") for h in hits[:4])


def test_without_an_article_number_ranking_decides(law_service):
    hits = law_service.search("示范劳动法学习资料", top_k=3).hits
    assert all(h.match is None for h in hits)
    # an article of a law the index does not hold is not invented
    hits = law_service.search("《民法典》第十九条", top_k=3).hits
    assert all(h.match is None for h in hits)
