"""The vocabulary bridge's bound: a substitute word never earns more than the question's own word."""
from __future__ import annotations

import bm25s
import numpy as np

from qa.expansion import Expansion, TermScores, cilin_synonyms, expansion_bonus, thesaurus_expansions


def _scores(docs: list[list[str]]) -> TermScores:
    bm25 = bm25s.BM25()
    bm25.index([d for d in docs], show_progress=False)
    return TermScores(bm25, len(docs))


def test_an_expansion_never_outranks_an_exact_match_of_the_question_word():
    docs = [["押金", "退还"],                       # the question's own word
            ["保证金", "保证金", "保证金", "退还"],  # only a (rarer, repeated) substitute
            ["租金", "退还"], ["租金"], ["租金", "合同"], ["押金", "合同", "租金", "期限", "房屋", "出租"]]
    ts = _scores(docs)
    base = np.zeros(len(docs), dtype=np.float32)
    for t in ["押金", "退还"]:
        d, v = ts.term(t)
        base[d] += v
    for weight in (0.3, 0.8, 0.99):
        total = base + expansion_bonus(ts, ["押金", "退还"], [Expansion("押金", ("保证金",), weight)])
        assert total[0] > total[1] > base[1]  # the substitute helps, but stays below the word itself
        assert total[5] == base[5]  # a passage with the word itself gains nothing from its synonym


def test_feedback_terms_are_bounded_by_the_weakest_exact_match():
    docs = [["押金", "退还"], ["保证金", "期限", "期限", "返还"], ["租金"], ["租金", "合同"]]
    ts = _scores(docs)
    own = ts.term("押金")[1].min()
    bonus = expansion_bonus(ts, ["押金"], [Expansion(None, ("保证金", "期限", "返还"), 0.9)])
    assert bonus[1] <= 0.9 * own + 1e-6 and bonus[1] > 0


def test_thesaurus_offers_corpus_synonyms_of_question_words():
    assert "吸烟" in cilin_synonyms().get("抽烟", ())
    ts = _scores([["吸烟", "罚款"], ["公共", "场所"], ["罚款"], ["场所"]])
    exps = thesaurus_expansions(["抽烟", "罚款"], ts, 0.5, max_df_share=1.0)
    assert any(e.source == "抽烟" and "吸烟" in e.terms for e in exps)
