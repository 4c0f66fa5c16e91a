"""Who does what, measured: GET /v1/tasks latency and what the task registry adds to an index build.

    python bench/bench_tasks.py --index /tmp/tasks-idx                 # latency over HTTP + registry cost
    python bench/bench_tasks.py --index /tmp/tasks-idx --fresh-build     # also a from-scratch build (~2 min)
    python bench/bench_tasks.py --url http://127.0.0.1:8611 --part http

* Latency: starts `qa serve` on the index (`--port`, default 8032, OMP_NUM_THREADS=1) or uses `--url`;
  sends, one at a time, GET /v1/tasks for every unit of GET /v1/units in every role (lead, support,
  any; limit 500), `--rounds` times (default 3); reports p50 / p95 / max of the client-side latency and
  the server's own `took_ms`, the number of tasks returned, and every non-200. The first round warms
  the per-task citation cache; p50 is over all rounds. Also GET /v1/units.
* In-process: `QAService.tasks` + `task_view` for the same queries (no HTTP, no JSON).
* Registry cost: the time `qa.indexer` spends on the registry in a build of the shipped gazette
  (`BuildReport.seconds["tasks"]`) against the whole build: `--fresh-build` builds a new index from
  scratch into a temporary folder (every chunk embedded: the build a new corpus costs); without it, a
  rebuild of `--index` in a copy (vectors reused: the smallest build there is, so the largest share).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def serve(index: Path, port: int):
    env = {**os.environ, "QA_INDEX_DIR": str(index), "OMP_NUM_THREADS": "1"}
    log = open(tempfile.mktemp(prefix="bench-tasks-", suffix=".log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def http_part(url: str, rounds: int) -> dict:
    client = httpx.Client(timeout=60)
    t0 = time.perf_counter()
    units = client.get(url + "/v1/units").json()["units"]
    units_ms = (time.perf_counter() - t0) * 1000
    queries = [(u["name"], role) for u in units for role in ("lead", "support", "any")]
    lat, took, errors, returned = [], [], 0, 0
    for r in range(rounds):
        for name, role in queries:
            t = time.perf_counter()
            resp = client.get(url + "/v1/tasks?" + urlencode({"unit": name, "role": role, "limit": 500}))
            lat.append((time.perf_counter() - t) * 1000)
            if resp.status_code != 200:
                errors += 1
                continue
            body = resp.json()
            took.append(body["took_ms"])
            if r == 0:
                returned += len(body["tasks"])
    unit_lat = []
    for _ in range(20):
        t = time.perf_counter()
        client.get(url + "/v1/units")
        unit_lat.append((time.perf_counter() - t) * 1000)
    return {"queries": len(queries), "requests": len(lat), "errors": errors, "tasks_returned_per_round": returned,
            "client_ms": {"p50": statistics.median(lat), "p95": pct(lat, 0.95), "max": max(lat)},
            "server_took_ms": {"p50": statistics.median(took), "p95": pct(took, 0.95), "max": max(took)},
            "units_first_ms": units_ms, "units_ms_p50": statistics.median(unit_lat)}


def inprocess_part(index: Path, rounds: int) -> dict:
    from qa.service import QAService
    from qa.settings import get_settings

    service = QAService(get_settings().model_copy(update={"index_dir": index}))
    t0 = time.perf_counter()
    service.reload()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    units = service.units()
    registry_s = time.perf_counter() - t0  # the registry is made from extras on first use
    queries = [(u["name"], role) for u in units for role in ("lead", "support", "any")]
    times = []
    for _ in range(rounds):
        for name, role in queries:
            t = time.perf_counter()
            result = service.tasks(unit=name, role=role, limit=500)
            [service.task_view(h.record, h.role) for h in result.hits]
            times.append((time.perf_counter() - t) * 1000)
    return {"index_load_s": load_s, "registry_from_extras_s": registry_s, "units": len(units),
            "records": len(service.task_registry()[1]),
            "ms": {"p50": statistics.median(times), "p95": pct(times, 0.95), "max": max(times)}}


def build_part(index: Path, fresh: bool) -> dict:
    from qa.embedders import make_embedder
    from qa.indexer import build_index
    from qa.settings import get_settings

    settings = get_settings()
    embedder = make_embedder(settings.embedder, settings.omp_threads, settings.index_threads)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "idx"
        if not fresh:
            shutil.copytree(index, target)
            # another reading fingerprint on record: every file is read (and the registry made) again
            from qa.store import current_build

            manifest = current_build(target) / "manifest.json"
            data = json.loads(manifest.read_text(encoding="utf-8"))
            data["reading"] = "0" * 16
            manifest.write_text(json.dumps(data), encoding="utf-8")
        report = build_index([ROOT / "corpus"], target, embedder, progress=False)
    s = report.seconds
    return {"kind": "from scratch (every chunk embedded)" if fresh else "rebuild, vectors reused",
            "total_s": s["total"], "read_s": s["read"], "lexical_s": s["lexical"], "tasks_s": s["tasks"],
            "dense_s": s["dense"], "tasks_share": s["tasks"] / s["total"], "embedded": report.embedded}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--url", help="a running server (else one is started on --index)")
    ap.add_argument("--port", type=int, default=8032)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--part", choices=["all", "http", "inprocess", "build"], default="all")
    ap.add_argument("--fresh-build", action="store_true", help="measure a from-scratch build (embeds everything)")
    a = ap.parse_args()
    out: dict = {"machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()}}
    if a.part in ("all", "http"):
        proc = None
        url = a.url
        if url is None:
            proc, url = serve(a.index, a.port)
        try:
            out["http"] = http_part(url, a.rounds)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    if a.part in ("all", "inprocess"):
        out["inprocess"] = inprocess_part(a.index, a.rounds)
    if a.part in ("all", "build"):
        out["build"] = build_part(a.index, a.fresh_build)
    out["machine"]["load_avg_end"] = os.getloadavg()
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
