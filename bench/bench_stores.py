"""Both stores side by side, in one run: build time, query latency and quality on the dev sets.

    python bench/bench_stores.py --out /tmp/stores.json                  # gazette, then gazette + laws sample
    python bench/bench_stores.py --only gazette --stores files,milvus

For each corpus and each store, from scratch (nothing reused between them: each build embeds its own
passages): `qa index --corpus … --index DIR [--store milvus --milvus-uri DIR/milvus.db]` (wall time),
then `qa serve --index DIR` (the folder says which store), then `../shared/eval/score.py http` on the
corpus's dev sets. The Milvus store runs embedded (milvus-lite, hosted inside the server process).
Quality must agree within 0.01 (MRR@10, answer accuracy); latency is the client-side wall time of
score.py's one /v1/search and one /v1/ask per question (every query embedding computed once).
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
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPORA = {
    "gazette": {"corpus": [ROOT / "corpus"], "sets": [("dev.jsonl", None)]},
    "gazette+laws": {"corpus": [ROOT / "corpus", SHARED / "corpora" / "laws-sample"],
                     "sets": [("laws-dev.jsonl", ""), ("dev.jsonl", None)]},
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def build(corpus: list[Path], index: Path, store: str, env: dict) -> dict:
    cmd = [sys.executable, "-m", "qa.cli", "index", "--quiet", "--index", str(index)]
    for c in corpus:
        cmd += ["--corpus", str(c)]
    if store == "milvus":
        cmd += ["--store", "milvus", "--milvus-uri", str(index / "milvus.db")]
    load = _load()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"build failed: {done.stderr[-3000:]}")
    m = re.search(r"in ([\d.]+) s \(read ([\d.]+) s, lexical ([\d.]+) s, dense ([\d.]+) s", done.stdout)
    summary = done.stdout.strip().splitlines()[-1]
    out = {"wall_s": round(wall, 1), "summary": summary, "load_before": load, "load_after": _load()}
    if m:
        out.update(total_s=float(m.group(1)), read_s=float(m.group(2)), lexical_s=float(m.group(3)),
                   dense_s=float(m.group(4)))
        # what the store itself took: the build minus reading, cutting and embedding
        out["store_s"] = round(out["total_s"] - out["read_s"] - out["lexical_s"] - out["dense_s"], 1)
    return out


def serve_and_score(index: Path, sets: list[tuple[str, str | None]], env: dict, workdir: Path) -> dict:
    port = _port()
    log = open(workdir / f"serve-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--index", str(index), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {(workdir / f'serve-{port}.log').read_text()[-3000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        startup = time.perf_counter() - t0
        health = httpx.get(url + "/healthz").json()
        results = {"startup_s": round(startup, 1), "health": health}
        for name, corpus_arg in sets:
            out = workdir / f"score-{port}-{name}.json"
            cmd = [sys.executable, str(SHARED / "eval" / "score.py"), "http", "--url", url, "--set",
                   str(SHARED / "eval" / name), "--out", str(out), "--quiet"]
            if corpus_arg is not None:
                cmd += ["--corpus", corpus_arg]
            load = _load()
            subprocess.run(cmd, check=True, capture_output=True, text=True)
            report = json.loads(out.read_text())
            o = report["overall"]
            results[name] = {k: o.get(k) for k in ("n", "hit@1", "hit@5", "mrr@10", "answer_acc", "abstain_acc",
                                                  "false_abstain_rate", "ask_errors", "search_errors")}
            results[name]["latency"] = report["latency"]
            results[name]["load"] = f"{load} → {_load()}"
            results[name]["ranks"] = [r["rank"] for r in report["questions"]]
            results[name]["answers"] = [r["answer"] for r in report["questions"]]
        return results
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", action="append", choices=list(CORPORA), help="corpus set(s) to run (default: all)")
    ap.add_argument("--stores", default="files,milvus")
    ap.add_argument("--workdir", type=Path, default=None, help="where the indexes go (default: a temp folder)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-stores-"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QA_OMP_THREADS": "1", "QA_API_KEY": "", "PYTHONUNBUFFERED": "1"}
    res: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "nproc": os.cpu_count(), "runs": {}}
    for name in args.only or list(CORPORA):
        spec = CORPORA[name]
        for store in args.stores.split(","):
            index = workdir / f"{name}-{store}"
            shutil.rmtree(index, ignore_errors=True)
            print(f"[{time.strftime('%H:%M:%S')}] {name} / {store}: building", flush=True)
            b = build(spec["corpus"], index, store, env)
            print(f"  {b['summary']}", flush=True)
            print(f"[{time.strftime('%H:%M:%S')}] {name} / {store}: serving and scoring", flush=True)
            s = serve_and_score(index, spec["sets"], env, workdir)
            res["runs"][f"{name}/{store}"] = {"build": b, "serve": s}
            for set_name, _ in spec["sets"]:
                r = s[set_name]
                print(f"  {set_name}: MRR@10 {r['mrr@10']:.3f} hit@1 {r['hit@1']:.3f} answer {r['answer_acc']:.3f} "
                      f"search p50 {r['latency']['search']['p50_ms']:.1f} ms p95 {r['latency']['search']['p95_ms']:.1f} "
                      f"ask p50 {r['latency']['ask']['p50_ms']:.1f} p95 {r['latency']['ask']['p95_ms']:.1f}", flush=True)
            args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1))
    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
