"""The store interface: the default install loads no optional store or cluster library; an
unreachable store is refused with a message; and the pure parts of the Milvus store — its filter
expressions and its BM25 weights — checked without a server (the BM25 weights against bm25s itself)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from qa.store.milvus_filters import SENTINEL, date_number, doc_weights, filter_expr, idf, like_literal, literal, \
    query_weights
from tests.conftest import ROOT, require_extra


def test_the_default_install_imports_neither_pymilvus_nor_ray():
    code = ("import sys, qa.service, qa.indexer, qa.cli, api.app, qa.store.milvus_filters; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymilvus', 'milvus_lite', 'ray')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_an_unreachable_milvus_is_refused_with_a_message(tmp_path):
    require_extra("pymilvus", "milvus")
    from qa.settings import Settings
    from qa.store import FileStore, StoreUnavailable, open_store
    from qa.store.milvus import MilvusStore

    assert isinstance(open_store(Settings(index_dir=tmp_path)), FileStore)
    store = open_store(Settings(index_dir=tmp_path, store="milvus", milvus_uri="http://127.0.0.1:1"))
    assert isinstance(store, MilvusStore)
    with pytest.raises(StoreUnavailable, match="cannot reach Milvus at http://127.0.0.1:1"):
        store.version()


def test_the_index_folder_remembers_its_store(tmp_path):
    from qa.settings import Settings
    from qa.store import FileStore, open_store

    (tmp_path / "store.json").write_text('{"store": "milvus", "uri": "http://127.0.0.1:1", "collection": "kept"}')
    store = open_store(Settings(index_dir=tmp_path))
    assert (store.kind, store.uri, store.alias) == ("milvus", "http://127.0.0.1:1", "kept")
    assert isinstance(open_store(Settings(index_dir=tmp_path, store="files")), FileStore)  # an explicit setting wins
    other = open_store(Settings(index_dir=tmp_path, milvus_uri="http://127.0.0.2:19530", milvus_collection="x"))
    assert (other.uri, other.alias) == ("http://127.0.0.2:19530", "x")


def test_filter_expressions_quote_and_escape_user_text():
    assert literal('青铜峡"市\\x') == '"青铜峡\\"市\\\\x"'
    # LIKE: % and _ are literal characters of a file name, not wildcards
    assert like_literal("laws/a_b", prefix=True) == '"laws/a\\\\_b%"'
    assert like_literal("50%") == '"%50\\\\%%"'
    expr = filter_expr(doc_ids=["d1", 'd"2'], issuer="水务局", date_from="2021-06", date_to="2021",
                       source_prefix="laws/", kinds=["table_row"])
    assert expr == ('(doc_id in ["d1", "d\\"2"]) and (issuer like "%水务局%") and (date >= 20210600 and '
                    'date <= 20219999) and (source like "laws/%") and (kind in ["table_row"])')
    assert filter_expr() is None
    assert filter_expr(doc_ids=[]) == "(doc_id in [])"
    assert filter_expr(date_to="2021-06-11") == "(date >= 1 and date <= 20210611)"  # undated documents excluded
    assert date_number("2021-6-1") == 20210601 and date_number(None) == 0
    with pytest.raises(ValueError, match="not a date"):
        filter_expr(date_from="June 2021")
    with pytest.raises(ValueError, match="after"):
        filter_expr(date_from="2022-01-01", date_to="2021-12-31")


def test_sparse_weights_reproduce_bm25s_scores():
    """A chunk's stored weights times the query's IDF weights are bm25s's BM25 score, so the Milvus
    lexical side ranks as the files store does."""
    import bm25s

    from qa.store.milvus import _lexicon

    docs = [["水务局", "供水", "管网", "巡检", "供水"], ["教育局", "校舍", "安全"], [], ["水务局", "黄河", "滩区", "治理", "水务局", "治理"],
            ["供水", "水费", "阶梯", "价格"]]
    ref = bm25s.BM25()
    ref.index([d if d else [""] for d in docs], show_progress=False)
    lex = _lexicon(docs)
    vocab = {t: i for i, t in enumerate(lex["terms"])}
    idf_of = {t: idf(lex["df"][i], lex["n"]) for t, i in vocab.items()}
    for query in (["水务局", "治理"], ["供水", "供水", "巡检"], ["校舍"], ["不存在"]):
        known = [t for t in query if t in vocab]
        expected = ref.get_scores(known) if known else np.zeros(len(docs))
        q = query_weights(query, vocab, idf_of)
        got = [sum(w * doc_weights(d, vocab, lex["avgdl"]).get(i, 0.0) for i, w in q.items()) for d in docs]
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-6), (query, got, expected)
    assert doc_weights([], vocab, lex["avgdl"]) == {SENTINEL: 1.0}
