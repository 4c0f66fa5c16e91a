"""bench/finetune_e5.py's export: a state dict → the serving format (int8 ONNX, word table outside the graph),
selectable as QA_EMBEDDER=e5-onnx-dir:<folder>. The untouched model through that path gives the shipped vectors."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from qa.embedders import EmbedderError, make_embedder

ROOT = Path(__file__).resolve().parents[1]


def _finetune_module():
    spec = importlib.util.spec_from_file_location("finetune_e5", ROOT / "bench" / "finetune_e5.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_untouched_model_exported_through_the_fine_tune_path_is_the_shipped_engine(tmp_path, embedder):
    pytest.importorskip("torch")
    folder = tmp_path / "onnx"
    _finetune_module().export("base", folder)
    tuned = make_embedder(f"e5-onnx-dir:{folder}")
    assert tuned.id.startswith("e5-onnx-dir:") and tuned.id != embedder.id  # an index records which model
    texts = ["在北京，有人在幼儿园里抽烟，会被罚多少钱？", "第十条 在公共场所吸烟的，由卫生健康部门责令改正，处五十元以上二百元以下罚款。"]
    a, b = embedder.embed_passages(texts), tuned.embed_passages(texts)
    assert np.all((a * b).sum(axis=1) > 0.9999)
    assert float(embedder.embed_query(texts[0]) @ tuned.embed_query(texts[0])) > 0.9999


def test_a_folder_without_an_export_is_refused(tmp_path):
    with pytest.raises(EmbedderError, match="no model.onnx"):
        make_embedder(f"e5-onnx-dir:{tmp_path}")
