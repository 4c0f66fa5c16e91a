"""The generated question bank (bench/question_bank.py): deterministic, sound, split by document.

Fast: it reads the corpora with the project's readers and chunker, no embedding and no index.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SHARED = ROOT.parent / "shared"
BANK = BENCH / "data" / "question_bank.jsonl"

pytestmark = pytest.mark.skipif(not (SHARED / "corpora" / "laws-sample").is_dir(),
                                reason="the shared corpora (../shared/corpora) are not here")


def _module(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def qb():
    return _module("question_bank")


@pytest.fixture(scope="module")
def corpora(qb):
    return qb.load_corpora(SHARED)


@pytest.fixture(scope="module")
def committed() -> list[dict]:
    return [json.loads(line) for line in BANK.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_regenerating_reproduces_the_committed_bank(qb, tmp_path):
    out = tmp_path / "bank.jsonl"
    assert qb.main(["--out", str(out), "--shared", str(SHARED)]) == 0
    assert out.read_bytes() == BANK.read_bytes(), (
        "bench/data/question_bank.jsonl is stale: run python bench/question_bank.py and commit the result")


def test_the_checker_finds_no_problem(committed, corpora):
    check = _module("check_question_bank")
    assert check.check(committed, corpora) == []


def test_the_checker_catches_a_bad_question(committed, corpora):
    check = _module("check_question_bank")
    answerable = next(r for r in committed if r["type"] != "unanswerable")
    unanswerable = next(r for r in committed if r["type"] == "unanswerable" and r["check"].get("absent"))
    bad_ev = dict(answerable, id="bad-1", question=answerable["question"] + "吗？",
                  evidence=["这段文字不在任何文件里出现过"])
    present = corpora[answerable["corpus"]].chunks[0].text.strip().split("\n")[0][:10]  # text that does occur
    bad_u = dict(unanswerable, id="bad-2", question="x" + unanswerable["question"], check={"absent": [present]})
    problems = check.check([*committed, bad_ev, bad_u], corpora)
    assert any(p.startswith("bad-1: evidence") for p in problems), problems
    assert any(p.startswith("bad-2:") and present in p for p in problems), problems


def test_split_is_by_document_and_every_corpus_has_both_kinds(committed, corpora):
    splits = defaultdict(set)
    for r in committed:
        splits[(r["corpus"], r["doc"])].add(r["split"])
    assert all(len(s) == 1 for s in splits.values())
    for name in corpora:
        rs = [r for r in committed if r["corpus"] == name]
        for split in ("fit", "heldout"):
            kinds = {r["type"] == "unanswerable" for r in rs if r["split"] == split}
            assert kinds == {True, False}, (name, split)
    unanswerable = sum(r["type"] == "unanswerable" for r in committed) / len(committed)
    assert len(committed) >= 700 and 0.25 <= unanswerable <= 0.45
