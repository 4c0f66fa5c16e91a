"""The serving install is lean (issue 15, item 1): what `pip install .` (and `make serve`) brings, the
project's own dependencies and everything they require in turn, holds none of torch,
sentence-transformers, transformers, pytest, playwright or schemathesis; those come with the extras
(`make test` installs st, test and mcp). The closure is walked through the metadata of the installed
distributions, so a new dependency that drags one of them in fails here. The size of a real fresh
install is measured in bench/bench_lean_install.sh (BENCHMARKS.md).
"""
from __future__ import annotations

import re
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

HEAVY = {"torch", "sentence-transformers", "transformers", "pytest", "playwright", "schemathesis"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _closure(requirements: list[str]) -> set[str]:
    """Names of every distribution `requirements` bring, without extras, as installed here."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional or platform-specific requirement
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:  # not installed on this platform: nothing more to follow
            continue
        todo.extend(Requirement(r) for r in requires)
    return seen


def test_the_serving_install_brings_nothing_heavy():
    closure = _closure(_project()["dependencies"])
    assert {"onnxruntime", "faiss-cpu", "jieba", "bm25s", "fastapi", "uvicorn"} <= closure
    assert not closure & HEAVY, sorted(closure & HEAVY)


def test_the_extras_carry_the_rest_and_torch_is_pinned():
    extras = _project()["optional-dependencies"]
    assert {"st", "test", "mcp"} <= set(extras)  # [milvus] and [ray] come with the Milvus store (issue 13)
    names = {canonicalize_name(Requirement(r).name) for group in extras.values() for r in group}
    assert {"torch", "sentence-transformers", "pytest", "playwright", "schemathesis"} <= names
    assert any(re.fullmatch(r"torch==2\.13\.0", r.replace(" ", "")) for r in extras["st"])
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    serve_install = next(line for line in makefile.splitlines() if "$(VENV)/bin/pip install" in line and " -e " in line)
    assert "[" not in serve_install and "torch" not in serve_install  # make serve installs the lean set
