"""Query latency of the service: in-process (QAService.search / ask) and over HTTP (a real uvicorn server).

    python bench/bench_latency.py --index /tmp/idx-onnx                       # both parts, ~3 min
    python bench/bench_latency.py --index /tmp/idx-onnx --part inprocess
    python bench/bench_latency.py --index /tmp/idx-onnx --part http --duration 20 --concurrency 1,8,32
    python bench/bench_latency.py --index /tmp/idx-onnx --dump-rankings before.json \
        --eval-set ../shared/eval/dev.jsonl                                    # results only, for diffing

* Questions: QUESTIONS below, 64 distinct generic questions about the shipped gazette written for this
  benchmark (none taken from shared/eval).
* In-process: one QAService on the index. "cold" = the first time a question is seen (its query
  embedding is not in the embedder's LRU cache: the whole pipeline runs); "warm" = the same questions
  again (embedding from the cache; everything else is recomputed, there is no result cache). The
  embedder cache is cleared between the search and ask cold passes, so both are really cold.
* HTTP: starts `qa serve` on 127.0.0.1 (`--port`, default 8031) in a subprocess with
  OMP_NUM_THREADS=1 (or uses `--url`), then, per endpoint:
  - a cold pass at concurrency 1 (half the questions on /v1/search, the other half on /v1/ask, so
    every request is a question the server has not seen);
  - timed cells at each concurrency (asyncio + httpx, one connection per worker, questions cycled,
    `--duration` seconds each, after the cold pass: the embeddings are cached, so these are warm).
  Reports requests/s, p50/p95/max of the client-side latency and the number of errors (non-200 or
  transport errors). The load generator runs on the same cores as the server.
* `--dump-rankings FILE` writes, for every question (and every `--eval-set` question), the top-10
  chunk ids with their fused/lexical/dense scores and the /ask answer: two dumps (before/after a code
  change) must be byte-identical for the change to be results-neutral.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUESTIONS = """
乡村振兴有效衔接实施方案的总体目标是什么？
过渡期内财政支持政策怎么衔接？
农村低收入人口怎么监测？
驻村第一书记由哪个部门负责选派？
移民致富提升行动由谁牵头？
农村医疗保障待遇水平如何确定？
乡村振兴重点帮扶村有哪些支持政策？
农村人居环境整治谁负责？
基础设施条件改善有哪些任务？
金融服务政策衔接的内容是什么？
土地支持政策怎么衔接？
考核机制如何衔接？
黄河流域生态保护先行区今年的年度目标是什么？
黄河堤防工程由哪个单位牵头？
水源涵养工程要做什么？
湿地保护由哪个部门负责？
空气质量改善有哪些措施？
水体污染治理谁牵头？
酿酒葡萄基地建设多少亩？
专精特新企业今年要创建几家？
黄河文化传承彰显区怎么建设？
国家卫生城市复审工作方案的工作目标是什么？
卫生城市复审宣传发动阶段是什么时间？
市容环境卫生工作组负责什么？
卫生城市复审指挥部总指挥是谁？
农贸市场环境卫生整治由哪个部门负责？
病媒生物防制工作谁负责？
基层水利服务体系改革的基本原则是什么？
农民用水协会怎么规范？
农业水价综合改革领导小组做什么？
灌溉面积如何落实？
基层水利改革的实施进程分几个阶段？
用水协会考核评议怎么进行？
调转增融四篇文章是什么意思？
现代农业特色优势怎么打造？
工业经济转型升级有哪些任务？
服务业提升的主要措施？
绿色发展由哪个部门牵头？
创新驱动有哪些要求？
区域城乡融合发展怎么推进？
义务教育优质均衡发展的工作目标是什么？
义务教育学校按什么划片招生？
教师交流轮岗怎么安排？
教育投入由政府怎么保障？
义务教育办学条件怎么改善？
教育教学质量怎么提高？
2021年政务公开工作要点有哪些？
政策解读由谁负责？
政务信息怎么规范管理？
政府网站集约化建设要求是什么？
政府开放活动怎么开展？
依申请公开办理质量如何提高？
政府公报怎么办好？
政务公开业务培训由谁组织？
青党发〔2021〕16号是什么文件？
青政发〔2021〕23号讲的是什么？
青政办发〔2021〕14号是哪天印发的？
青党办〔2021〕30号由谁发布？
公报的主编是谁？
青铜峡市人民政府办公室的邮政编码是多少？
防止返贫监测对象怎么帮扶？
污水处理厂尾水处理项目谁牵头？
重金属污染排放怎么控制？
控辍保学机制如何完善？
""".split()


# -- helpers -------------------------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2),
            "mean_ms": round(statistics.fmean(ms), 2) if ms else None, "max_ms": round(max(ms), 2) if ms else None}


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        mem_kb = 0
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 2**20, 1),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def make_service(index: Path, embedder: str, neighbour_weight: float | None = None,
                 term_vectors: Path | None = None):
    from qa.service import QAService
    from qa.settings import Settings

    settings = Settings(index_dir=index, embedder=embedder, omp_threads=1)
    service = QAService(settings)
    service.reload(force=True)
    if neighbour_weight is not None:  # the vocabulary bridge's word map on/off (qa/bridge.py), in-process only
        from qa.retrieval import HybridRetriever

        idx, _ = service.state
        r = HybridRetriever(idx, service.embedder, neighbour_weight=neighbour_weight)
        if term_vectors is not None and neighbour_weight > 0:  # e.g. --kind encoder (bench/build_term_vectors.py)
            from qa.bridge import NeighbourMap

            r.neighbours = NeighbourMap.load(term_vectors, r._terms)
        service._state = (idx, r)
    return service


def clear_query_cache(service) -> None:
    cache = getattr(service.embedder, "_cache", None)
    if cache is not None:
        with cache._lock:
            cache._data.clear()


# -- in-process ----------------------------------------------------------------------------------------

def bench_inprocess(index: Path, embedder: str, warm_repeats: int, neighbour_weight: float | None = None,
                    term_vectors: Path | None = None) -> dict:
    t0 = time.perf_counter()
    service = make_service(index, embedder, neighbour_weight, term_vectors)
    load_s = time.perf_counter() - t0
    # the first call initialises lazy things (jieba dictionary, ORT session arenas): not a query cost
    service.search("初始化", 5)
    service.ask("初始化", 5)
    out = {"load_s": round(load_s, 2), "load_avg_start": loadavg()}
    for name, fn in (("search", lambda q: service.search(q, 5)), ("ask", lambda q: service.ask(q, 5))):
        clear_query_cache(service)
        cold = []
        for q in QUESTIONS:
            t = time.perf_counter()
            fn(q)
            cold.append((time.perf_counter() - t) * 1000)
        warm = []
        for _ in range(warm_repeats):
            for q in QUESTIONS:
                t = time.perf_counter()
                fn(q)
                warm.append((time.perf_counter() - t) * 1000)
        out[name] = {"cold": summary(cold), "warm": summary(warm)}
    # the query embedding alone (cold), to separate model time from the rest
    clear_query_cache(service)
    emb = []
    for q in QUESTIONS:
        t = time.perf_counter()
        service.embedder.embed_query(q)
        emb.append((time.perf_counter() - t) * 1000)
    out["embed_query_cold"] = summary(emb)
    out["load_avg_end"] = loadavg()
    return out


# -- HTTP ----------------------------------------------------------------------------------------------

ERROR_KINDS: dict[str, int] = {}  # "HTTP 500", "ReadError", ... → count, over the whole run


async def _one(client, url: str, payload: dict) -> tuple[float, bool]:
    t = time.perf_counter()
    try:
        r = await client.post(url, json=payload)
        ok = r.status_code == 200
        kind = f"HTTP {r.status_code}"
    except Exception as e:
        ok = False
        kind = f"{type(e).__name__}: {e}"[:120]
    if not ok:
        ERROR_KINDS[kind] = ERROR_KINDS.get(kind, 0) + 1
    return (time.perf_counter() - t) * 1000, ok


def _payload(endpoint: str, q: str) -> dict:
    return {"query": q, "top_k": 5} if endpoint == "/v1/search" else {"question": q, "top_k": 5}


async def _cold_pass(base: str, endpoint: str, questions: list[str]) -> dict:
    import httpx

    lat, errors = [], 0
    async with httpx.AsyncClient(timeout=30) as client:
        for q in questions:
            ms, ok = await _one(client, base + endpoint, _payload(endpoint, q))
            lat.append(ms)
            errors += not ok
    return {**summary(lat), "errors": errors}


async def _cell(base: str, endpoint: str, concurrency: int, duration: float) -> dict:
    import httpx

    lat: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client) -> None:
        nonlocal counter, errors
        while time.perf_counter() < deadline:
            q = QUESTIONS[counter % len(QUESTIONS)]
            counter += 1
            ms, ok = await _one(client, base + endpoint, _payload(endpoint, q))
            lat.append(ms)
            errors += not ok

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"concurrency": concurrency, "seconds": round(wall, 1), "requests": len(lat),
            "rps": round(len(lat) / wall, 1), **summary(lat), "errors": errors}


def start_server(index: Path, embedder: str, port: int, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QA_EMBEDDER": embedder, "QA_INDEX_DIR": str(index),
           "QA_OMP_THREADS": "1"}
    qa_bin = Path(sys.executable).with_name("qa")
    cmd = [str(qa_bin), "serve", "--port", str(port), "--index", str(index), "--embedder", embedder]
    log = open(log_path, "w")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(base: str, timeout: float = 120) -> None:
    import httpx

    end = time.time() + timeout
    while time.time() < end:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except Exception:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server at {base} not ready after {timeout} s")


def bench_http(index: Path, embedder: str, url: str | None, port: int, concurrency: list[int],
               duration: float) -> dict:
    proc = None
    base = url
    if base is None:
        base = f"http://127.0.0.1:{port}"
        proc = start_server(index, embedder, port, Path(f"/tmp/bench_latency_server_{port}.log"))
    try:
        wait_ready(base)
        import httpx

        # one request that initialises the server's lazy state; its question is not in QUESTIONS
        httpx.post(base + "/v1/ask", json={"question": "初始化"}, timeout=60)
        out: dict = {"base": base, "load_avg_start": loadavg(), "cold": {}, "cells": {}}
        out["cold"]["/v1/search"] = asyncio.run(_cold_pass(base, "/v1/search", QUESTIONS[0::2]))
        out["cold"]["/v1/ask"] = asyncio.run(_cold_pass(base, "/v1/ask", QUESTIONS[1::2]))
        for endpoint in ("/v1/search", "/v1/ask"):
            out["cells"][endpoint] = []
            for c in concurrency:
                cell = asyncio.run(_cell(base, endpoint, c, duration))
                cell["load_avg"] = loadavg()
                out["cells"][endpoint].append(cell)
                print(f"  {endpoint:<10} c={c:<3} {cell['rps']:>6} req/s  p50 {cell['p50_ms']:>7} ms  "
                      f"p95 {cell['p95_ms']:>7} ms  errors {cell['errors']}  (load {cell['load_avg']})", flush=True)
        out["error_kinds"] = dict(ERROR_KINDS)
        return out
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- rankings dump -------------------------------------------------------------------------------------

def dump_rankings(index: Path, embedder: str, eval_set: Path | None, path: Path) -> None:
    service = make_service(index, embedder)
    questions = list(QUESTIONS)
    if eval_set is not None:
        questions += [json.loads(line)["question"] for line in eval_set.read_text(encoding="utf-8").splitlines()
                      if line.strip()]
    _, retriever = service.state
    rows = []
    for q in questions:
        hits, _ = retriever.search(q, top_k=10)
        a = service.ask(q, 5)
        rows.append({"q": q,
                     "search": [[h.chunk.chunk_id, repr(h.score), repr(h.lexical), repr(h.dense)] for h in hits],
                     "ask": [a.answer.answer, a.answer.answer_type, repr(a.answer.confidence),
                             [h.chunk.chunk_id for h in a.hits]]})
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=0), encoding="utf-8")
    print(f"wrote {len(rows)} rankings to {path}")


# -- main ----------------------------------------------------------------------------------------------

def print_tables(res: dict) -> None:
    ip = res.get("inprocess")
    if ip:
        print(f"\nin-process ({ip['load_avg_start']} → {ip['load_avg_end']} load avg)")
        print("| call | cache | n | p50 ms | p95 ms | mean ms |")
        print("|---|---|---|---|---|---|")
        for name in ("search", "ask"):
            for kind in ("cold", "warm"):
                s = ip[name][kind]
                print(f"| {name} | {kind} | {s['n']} | {s['p50_ms']} | {s['p95_ms']} | {s['mean_ms']} |")
        s = ip["embed_query_cold"]
        print(f"| embed_query only | cold | {s['n']} | {s['p50_ms']} | {s['p95_ms']} | {s['mean_ms']} |")
    h = res.get("http")
    if h:
        print(f"\nHTTP {h['base']} (cells after a cold pass; load avg at start {h['load_avg_start']})")
        print("| endpoint | concurrency | seconds | requests | req/s | p50 ms | p95 ms | max ms | errors | load avg |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for ep, s in h["cold"].items():
            print(f"| {ep} | 1 (cold pass) | – | {s['n']} | – | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} | "
                  f"{s['errors']} | {h['load_avg_start']} |")
        for ep, cells in h["cells"].items():
            for c in cells:
                print(f"| {ep} | {c['concurrency']} | {c['seconds']} | {c['requests']} | {c['rps']} | {c['p50_ms']} | "
                      f"{c['p95_ms']} | {c['max_ms']} | {c['errors']} | {c['load_avg']} |")
        if h.get("error_kinds"):
            print(f"errors by kind: {h['error_kinds']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=Path("/tmp/idx-onnx"))
    ap.add_argument("--embedder", default="e5-onnx")
    ap.add_argument("--part", choices=["all", "inprocess", "http"], default="all")
    ap.add_argument("--warm-repeats", type=int, default=3, help="warm passes over the questions (in-process)")
    ap.add_argument("--url", default=None, help="benchmark this running server instead of starting one")
    ap.add_argument("--port", type=int, default=8031)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per HTTP cell")
    ap.add_argument("--label", default="", help="stored with the results (e.g. before/after)")
    ap.add_argument("--neighbour-weight", type=float, default=None,
                    help="in-process: the word map's weight instead of the default (0 = off)")
    ap.add_argument("--term-vectors", type=Path, default=None,
                    help="in-process: the word map's stored term vectors (bench/build_term_vectors.py)")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--dump-rankings", type=Path, default=None, help="only dump rankings/answers to this file")
    ap.add_argument("--eval-set", type=Path, default=None, help="extra questions for --dump-rankings")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.dump_rankings:
        dump_rankings(args.index, args.embedder, args.eval_set, args.dump_rankings)
        return
    res = {"label": args.label, "machine": machine(), "index": str(args.index), "embedder": args.embedder,
           "command": " ".join([Path(sys.executable).name] + sys.argv)}
    print(json.dumps(res["machine"]), "load avg", loadavg(), flush=True)
    if args.part in ("all", "inprocess"):
        res["inprocess"] = bench_inprocess(args.index, args.embedder, args.warm_repeats, args.neighbour_weight,
                                            args.term_vectors)
    if args.part in ("all", "http"):
        res["http"] = bench_http(args.index, args.embedder, args.url, args.port,
                                 [int(c) for c in args.concurrency.split(",")], args.duration)
    print_tables(res)
    if args.out:
        args.out.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
