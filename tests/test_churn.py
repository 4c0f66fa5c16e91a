"""Churn under load (issue 16, item 4), the suite's lean form of bench/bench_churn.py: uploads and
deletes over HTTP and `qa index add` / `qa index remove` in other processes while 4 clients query a
real server for ~10 s (plus the writes in flight then). 0 errors, no document lost or duplicated, every answer from a build the server
loaded whole (the bench runs 16 clients for 60 s; numbers in BENCHMARKS.md).
"""
from __future__ import annotations

import shutil

from bench.bench_churn import run_churn
from tests.conftest import running_server

KEY = "churn-key-3e1f"


def test_queries_stay_right_while_documents_come_and_go(tmp_path, built_settings):
    index, corpus, log = tmp_path / "index", tmp_path / "corpus", tmp_path / "server.log"
    shutil.copytree(built_settings.index_dir, index)
    corpus.mkdir()
    env = {"QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus), "QA_API_KEY": KEY, "QA_RATE_LIMIT": "off"}
    with running_server(env, log=log) as url:
        report = run_churn(url, index, KEY, log, clients=4, seconds=10, work=tmp_path)
    assert report["problems"] == [], report
    assert report["errors"] == 0 and report["write_errors"] == 0
    # both kinds of writers went round at least once: add, then remove
    assert report["writes"].get("uploads", 0) >= 1 and report["writes"].get("deletes", 0) >= 1, report["writes"]
    assert report["writes"].get("qa index add", 0) >= 1 and report["writes"].get("qa index remove", 0) >= 1
    assert report["documents_after"] == report["documents_before"] and report["same_documents_after"]
    assert report["duplicate_ids_after"] == 0
    assert report["answers_from_unloaded_builds"] == [] and report["builds_out_of_bounds"] == []
    assert report["healthz_out_of_bounds"] == []
    assert report["builds_answering"] >= 2  # answers really came from builds published during the run
    assert report["requests"] > 50
