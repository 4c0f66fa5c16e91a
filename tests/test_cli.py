"""The `qa` command as a user runs it: build, add, list, search and remove, each a real process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAW_A = """# 青铜峡市农村供水管理办法

## 第一章 总则

第一条 为了加强农村供水管理，保障农村居民饮水安全，制定本办法。

第二条 农村自来水管网的日常巡检由市水务局负责，各镇人民政府配合。
"""

LAW_B = """# 青铜峡市城市绿化管理办法

## 第一章 总则

第一条 为了促进城市绿化事业发展，改善生态环境，制定本办法。

第二条 城市公园和道路绿地的养护由市住房和城乡建设局负责。
"""


def _qa(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_OMP_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_index_add_search_remove_round_trip(tmp_path):
    corpus, extra, index = tmp_path / "corpus", tmp_path / "extra", tmp_path / "index"
    corpus.mkdir()
    extra.mkdir()
    (corpus / "供水管理办法.md").write_text(LAW_A, encoding="utf-8")
    (extra / "绿化管理办法.md").write_text(LAW_B, encoding="utf-8")

    built = _qa("index", "--quiet", "--corpus", str(corpus), "--index", str(index))
    assert built.returncode == 0, built.stderr
    assert "indexed 1 documents" in built.stdout

    # --index after the subcommand, as users type it
    added = _qa("index", "add", "--quiet", str(extra / "绿化管理办法.md"), "--index", str(index))
    assert added.returncode == 0, added.stderr
    assert "indexed 2 documents" in added.stdout
    listed = _qa("documents", "--index", str(index))
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    green = next(r[0] for r in rows if r[-1] == "青铜峡市城市绿化管理办法")

    found = _qa("search", "城市公园的养护谁负责", "-k", "1", "--index", str(index))
    assert found.returncode == 0, found.stderr
    assert "市住房和城乡建设局负责" in found.stdout and "第一章 总则 > 第二条" in found.stdout

    removed = _qa("index", "remove", green, "--quiet", "--index", str(index))
    assert removed.returncode == 0, removed.stderr
    assert "indexed 1 documents" in removed.stdout
    assert green not in _qa("documents", "--index", str(index)).stdout

    missing = _qa("index", "remove", green, "--index", str(index))
    assert missing.returncode == 1 and "no document" in missing.stderr
