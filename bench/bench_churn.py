"""Churn under load (issue 16, item 4): documents added and removed — by HTTP uploads to the server and
by `qa index add` / `qa index remove` in other processes — while clients query the server.

    .venv/bin/python bench/bench_churn.py                          # 16 clients, 60 s of churn, 20 s baseline
    .venv/bin/python bench/bench_churn.py --clients 4 --seconds 20 --baseline 0

The bench starts `qa serve` on a copy of a gazette index (built first from corpus/ if --index is not
given) and measures, in the same run, a baseline phase (the same clients, no churn) and the churn
phase. `tests/test_churn.py` runs `run_churn` with fewer clients for ~20 s.

What is checked, for every response of the churn phase (the counts come back in the report):

- **0 errors**: every query 200, every upload 201 and delete 200, every `qa index` process exit 0;
- **no document lost**: the canary question gets, from every build, the answer and the top cited
  document it got before the churn started; `/healthz` never counts fewer documents than at the start;
- **none duplicated**: never more than start + 2 documents (one upload and one CLI document at most
  exist at once), document ids unique at the end, and the end state is the start state;
- **every answer from a complete index**: each response names its `index_version`; every such build
  is one the server loaded (after checking every file against the manifest's checksums, logged as
  "serving index V (N documents …)"), with N within the bounds above.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CANARY = "防止返贫动态监测帮扶机制由哪个部门牵头？"
QUERIES = ["污水处理站建设谁牵头？", "农村污水处理率要达到多少？", "孩子上学按什么划片？",
           "黄河滩区治理工程由哪个单位牵头？", "政务公开工作要点有哪些？", "国家卫生城市复审由谁负责？"]
SERVING = re.compile(r"serving index (\S+) \((\d+) documents")


def churn_law(tag: str, articles: int = 3) -> str:
    """A small Markdown regulation whose every article names `tag` (so its passages are its own)."""
    lines = [f"# 青铜峡市{tag}管理办法\n\n2021年8月1日 青铜峡市人民政府公布\n\n第一章 总则\n"]
    for i, n in enumerate("一二三四五六七八九十"[:articles], 1):
        lines.append(f"第{n}条 {tag}专项第{i}项工作由市{tag}服务中心牵头，每年{i}月底前完成，涉及{i * 7}个行政村。\n")
    return "\n".join(lines)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


@dataclass
class Tally:
    """What the clients saw; appended to from several threads (list.append is atomic)."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    versions: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    documents_seen: list[int] = field(default_factory=list)
    writes: Counter = field(default_factory=Counter)

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)


def _client_loop(url: str, stop: threading.Event, tally: Tally, expected: dict, n: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        i = n
        while not stop.is_set():
            i += 1
            try:
                t0 = time.perf_counter()
                if i % 7 == 0:
                    r = client.get("/healthz")
                elif i % 2 == 0:
                    r = client.post("/v1/ask", json={"question": CANARY})
                else:
                    r = client.post("/v1/search", json={"query": QUERIES[i % len(QUERIES)], "top_k": 5})
                tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
            except httpx.HTTPError as e:
                tally.statuses[f"{type(e).__name__}"] += 1
                tally.problem(f"request failed: {type(e).__name__}: {e}")
                continue
            tally.statuses[r.status_code] += 1
            if r.status_code != 200:
                tally.problem(f"{r.request.method} {r.request.url.path} → {r.status_code}: {r.text[:200]}")
                continue
            body = r.json()
            if "documents" in body and "status" in body:
                tally.documents_seen.append(body["documents"])
                continue
            tally.versions.add(body.get("index_version") or "?")
            if "answer" in body:
                top = body["citations"][0]["citation"]["doc_id"] if body["citations"] else None
                if body["answer"] != expected["answer"] or top != expected["top_doc"]:
                    tally.problem(f"canary answered {body['answer']!r} from {top} by build {body.get('index_version')}")


def _uploader(url: str, key: str, stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=300, headers={"X-API-Key": key}) as client:
        i = 0
        while not stop.is_set():
            i += 1
            name = f"churn-up-{i}.md"
            r = client.post("/v1/documents", files={"file": (name, churn_law(f"上传{i}号").encode("utf-8"))})
            if r.status_code != 201:
                tally.writes["upload errors"] += 1
                tally.problem(f"upload {name} → {r.status_code}: {r.text[:200]}")
                continue
            tally.writes["uploads"] += 1
            docs = client.get("/v1/documents").json()["documents"]
            ids = [d["doc_id"] for d in docs if d["source"] == name]  # an added file is named by itself
            if len(ids) != 1:
                tally.problem(f"uploaded {name} is {len(ids)} documents of the index")
                continue
            r = client.delete(f"/v1/documents/{ids[0]}")
            if r.status_code != 200:
                tally.writes["delete errors"] += 1
                tally.problem(f"delete {ids[0]} → {r.status_code}: {r.text[:200]}")
            else:
                tally.writes["deletes"] += 1


def _cli(index: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QA_OMP_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "qa.cli", "index", *args, "--index", str(index), "-q"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _cli_churn(index: Path, folder: Path, stop: threading.Event, tally: Tally) -> None:
    from qa.store import FileStore

    i = 0
    while not stop.is_set():
        i += 1
        path = folder / f"churn-cli-{i}.md"
        path.write_text(churn_law(f"命令{i}号"), encoding="utf-8")
        run = _cli(index, "add", str(path))
        if run.returncode != 0:
            tally.writes["qa index add errors"] += 1
            tally.problem(f"qa index add → {run.returncode}: {run.stderr[-300:]}")
            continue
        tally.writes["qa index add"] += 1
        ids = [d["doc_id"] for d in FileStore(index).documents() if d["source"] == path.name]
        if len(ids) != 1:
            tally.problem(f"{path.name} is {len(ids)} documents of the index")
            continue
        run = _cli(index, "remove", ids[0])
        if run.returncode != 0:
            tally.writes["qa index remove errors"] += 1
            tally.problem(f"qa index remove → {run.returncode}: {run.stderr[-300:]}")
        else:
            tally.writes["qa index remove"] += 1


def run_churn(url: str, index: Path, key: str, log: Path, clients: int, seconds: float, work: Path,
              churn: bool = True) -> dict:
    """`clients` query threads for `seconds`, with (churn) an uploader and a `qa index` add/remove loop
    running until then (a write in progress is finished, the clients keep querying meanwhile)."""
    start = httpx.get(url + "/healthz", timeout=30).json()
    first = httpx.post(url + "/v1/ask", json={"question": CANARY}, timeout=60).json()
    expected = {"answer": first["answer"], "top_doc": first["citations"][0]["citation"]["doc_id"]}
    start_ids = sorted(d["doc_id"] for d in httpx.get(url + "/v1/documents", timeout=30).json()["documents"])
    mark = log.stat().st_size if log.exists() else 0
    tally = Tally()
    stop_clients, stop_writers = threading.Event(), threading.Event()
    readers = [threading.Thread(target=_client_loop, args=(url, stop_clients, tally, expected, n), daemon=True)
               for n in range(clients)]
    writers = []
    if churn:
        folder = work / "cli-docs"
        folder.mkdir(parents=True, exist_ok=True)
        writers = [threading.Thread(target=_uploader, args=(url, key, stop_writers, tally), daemon=True),
                   threading.Thread(target=_cli_churn, args=(index, folder, stop_writers, tally), daemon=True)]
    t0 = time.monotonic()
    for t in readers + writers:
        t.start()
    time.sleep(seconds)
    stop_writers.set()
    for t in writers:
        t.join(timeout=600)
    stop_clients.set()
    for t in readers:
        t.join(timeout=120)
    elapsed = time.monotonic() - t0
    time.sleep(1.5)  # the server picks up the last build within a second
    end = httpx.get(url + "/healthz", timeout=30).json()
    end_ids = sorted(d["doc_id"] for d in httpx.get(url + "/v1/documents", timeout=30).json()["documents"])
    loaded = dict(SERVING.findall(log.read_text(errors="replace")[mark:])) if log.exists() else {}
    loaded[start["index_version"]] = str(start["documents"])
    lo, hi = start["documents"], start["documents"] + (2 if churn else 0)
    unloaded = sorted(v for v in tally.versions if v not in loaded)
    out_of_bounds = sorted(v for v in tally.versions if v in loaded and not lo <= int(loaded[v]) <= hi)
    health_out = [n for n in tally.documents_seen if not lo <= n <= hi]
    requests = sum(tally.statuses.values())
    errors = requests - tally.statuses.get(200, 0)
    write_errors = sum(v for k, v in tally.writes.items() if "error" in k)
    return {
        "clients": clients, "seconds": round(elapsed, 1), "churn": churn, "requests": requests,
        "errors": errors, "statuses": {str(k): v for k, v in tally.statuses.items()},
        "requests_per_s": round(requests / elapsed, 1), "p50_ms": round(pct(tally.latencies_ms, 50), 1),
        "p95_ms": round(pct(tally.latencies_ms, 95), 1), "writes": dict(tally.writes), "write_errors": write_errors,
        "documents_before": start["documents"], "documents_after": end["documents"],
        "same_documents_after": start_ids == end_ids, "duplicate_ids_after": len(end_ids) - len(set(end_ids)),
        "builds_answering": len(tally.versions), "builds_loaded": len(loaded),
        "answers_from_unloaded_builds": unloaded, "builds_out_of_bounds": out_of_bounds,
        "healthz_out_of_bounds": health_out[:10], "problems": tally.problems,
    }


# -- the bench ---------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="a built gazette index to copy (default: build one from corpus/)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--baseline", type=float, default=20, help="seconds of the same load without churn first")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-churn-"))
    key = "bench-churn-key"
    try:
        index = work / "index"
        if args.index:
            shutil.copytree(args.index, index)
        else:
            run = subprocess.run([sys.executable, "-m", "qa.cli", "index", "--index", str(index), "-q"], cwd=ROOT)
            if run.returncode:
                raise SystemExit("could not build the index")
        (work / "corpus").mkdir()
        port = _free_port()
        log = work / "server.log"
        env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(work / "corpus"), "QA_API_KEY": key,
               "QA_RATE_LIMIT": "off", "QA_OMP_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
        with open(log, "w") as out:
            server = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], cwd=ROOT,
                                      env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            report = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count()}
            if args.baseline > 0:
                report["baseline"] = run_churn(url, index, key, log, args.clients, args.baseline, work, churn=False)
                print("baseline", json.dumps(report["baseline"], ensure_ascii=False), file=sys.stderr)
            report["churn"] = run_churn(url, index, key, log, args.clients, args.seconds, work)
            report["load_average_end"] = os.getloadavg()
            if args.baseline > 0 and report["baseline"]["p95_ms"]:
                report["p95_ratio_churn_to_baseline"] = round(report["churn"]["p95_ms"] / report["baseline"]["p95_ms"], 2)
        finally:
            server.terminate()
            server.wait(timeout=30)
        text = json.dumps(report, ensure_ascii=False, indent=1)
        print(text)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
