"""The store interface: the default install loads no optional store or cluster library, and an
unavailable store is refused with a message instead of an ImportError."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_the_default_install_imports_neither_pymilvus_nor_ray():
    code = ("import sys, qa.service, qa.indexer, qa.cli, api.app; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pymilvus', 'milvus_lite', 'ray')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_an_unavailable_store_is_refused_with_a_message(tmp_path):
    from qa.settings import Settings
    from qa.store import FileStore, StoreUnavailable, open_store

    assert isinstance(open_store(Settings(index_dir=tmp_path)), FileStore)
    with pytest.raises(StoreUnavailable, match="QA_STORE=files"):
        open_store(Settings(index_dir=tmp_path, store="milvus"))
