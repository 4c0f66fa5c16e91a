"""Load test: hold N concurrent clients for T seconds against a real uvicorn server on loopback.

    .venv/bin/python bench/bench_load.py --index /path/to/index            # starts `qa serve` itself
    .venv/bin/python bench/bench_load.py --url http://127.0.0.1:8000 --pid 1234   # an already running one

A mix of POST /v1/search and POST /v1/ask (half each, questions below, written for this benchmark,
not taken from the evaluation set), asyncio + httpx, one connection per client. Reports requests/s,
p50/p95/p99 latency overall and per endpoint, errors (any non-200 or transport error), and the
server process's memory: RSS after warm-up, at mid-run and at the end, and its peak (VmHWM).
Bounded: --duration seconds (default 60) and at most --max-requests requests (default 200000).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

SEARCHES = [
    "农村生活污水治理由哪个部门负责",
    "义务教育阶段招生划片",
    "脱贫人口小额信贷",
    "防汛抗旱应急预案",
    "高标准农田建设任务",
    "城乡居民医疗保险参保",
    "消防安全隐患排查整治",
    "营商环境 优化 审批时限",
    "青政办发〔2021〕14号",
    "乡村振兴 产业帮扶 资金",
    "残疾人两项补贴",
    "公共法律服务体系",
]
QUESTIONS = [
    "易地扶贫搬迁后续扶持由哪个单位牵头？",
    "农村饮水安全工程的管护由谁负责？",
    "脱贫攻坚过渡期是几年？",
    "学校招生时户籍和住房有什么要求？",
    "谁负责农村人居环境整治？",
    "2021年要完成多少户农村改厕？",
    "哪个文件讲的是义务教育招生？",
    "返贫监测对象的收入标准是多少？",
    "农村危房改造由哪个部门牵头？",
    "防止规模性返贫的措施有哪些？",
    "城市公交票价是多少？",        # not in the corpus: the "none" path
    "今年的大学生创业补贴怎么申请？",  # not in the corpus
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QA_INDEX_DIR": str(index), "QA_API_KEY": ""}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--index", str(index), "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not come up in 180 s")


async def run_load(url: str, pid: int | None, concurrency: int, duration: float, max_requests: int,
                   seed: int) -> dict:
    rng = random.Random(seed)
    results: list[tuple[str, float, int | str]] = []  # (endpoint, seconds, status or error name)
    memory: list[tuple[float, int]] = []
    issued = 0
    t_start = time.monotonic()
    deadline = t_start + duration

    def next_request() -> tuple[str, dict]:
        if rng.random() < 0.5:
            return "/v1/search", {"query": rng.choice(SEARCHES), "top_k": rng.choice((3, 5, 10))}
        return "/v1/ask", {"question": rng.choice(QUESTIONS)}

    async def client_loop() -> None:
        nonlocal issued
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=1)) as client:
            while time.monotonic() < deadline and issued < max_requests:
                issued += 1
                path, body = next_request()
                t0 = time.perf_counter()
                try:
                    r = await client.post(path, json=body)
                    status: int | str = r.status_code
                except httpx.HTTPError as e:
                    status = type(e).__name__
                results.append((path, time.perf_counter() - t0, status))

    async def sample_memory() -> None:
        while time.monotonic() < deadline and pid is not None:
            memory.append((time.monotonic() - t_start, rss_kib(pid)["VmRSS"]))
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample_memory())
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    elapsed = time.monotonic() - t_start
    sampler.cancel()

    def stats(rows) -> dict:
        lat = [s * 1000 for _, s, st in rows if st == 200]
        return {"requests": len(rows), "ok": len(lat), "errors": len(rows) - len(lat),
                "rps": round(len(rows) / elapsed, 2),
                "p50_ms": round(percentile(lat, 0.50), 1), "p95_ms": round(percentile(lat, 0.95), 1),
                "p99_ms": round(percentile(lat, 0.99), 1), "max_ms": round(max(lat), 1) if lat else None,
                "mean_ms": round(statistics.fmean(lat), 1) if lat else None}

    errors: dict[str, int] = {}
    for _, _, st in results:
        if st != 200:
            errors[str(st)] = errors.get(str(st), 0) + 1
    out = {"elapsed_s": round(elapsed, 1), "concurrency": concurrency, "all": stats(results),
           "search": stats([r for r in results if r[0] == "/v1/search"]),
           "ask": stats([r for r in results if r[0] == "/v1/ask"]), "error_kinds": errors}
    if pid is not None:
        mid = [m for t, m in memory if t >= elapsed / 2]
        out["memory_kib"] = {"rss_start": memory[0][1] if memory else None, "rss_mid": mid[0] if mid else None,
                             "rss_end": rss_kib(pid)["VmRSS"], "rss_max_sampled": max(m for _, m in memory),
                             "peak_vmhwm": rss_kib(pid)["VmHWM"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server (else one is started on --index)")
    ap.add_argument("--pid", type=int, help="the running server's pid, for its memory")
    ap.add_argument("--index", type=Path, help="index folder for the server this script starts")
    ap.add_argument("--port", type=int, default=0, help="port for the started server (default: a free one)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--warmup", type=int, default=20, help="sequential requests before the clock starts")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if not args.url and not args.index:
        ap.error("give --url (and --pid) of a running server, or --index to start one")
    proc = None
    url, pid = args.url, args.pid
    if url is None:
        port = args.port or free_port()
        proc = start_server(args.index, port, Path(f"/tmp/bench_load_server_{port}.log"))
        url, pid = f"http://127.0.0.1:{port}", proc.pid
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            for i in range(args.warmup):
                c.post("/v1/ask" if i % 2 else "/v1/search",
                       json={"question": QUESTIONS[i % len(QUESTIONS)]} if i % 2 else {"query": SEARCHES[i % len(SEARCHES)]})
            health = c.get("/healthz").json()
        load_before = os.getloadavg()
        result = asyncio.run(run_load(url, pid, args.concurrency, args.duration, args.max_requests, args.seed))
        result.update({"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "machine": f"{platform.node()} "
                       f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
                       "python": platform.python_version(), "loadavg_before": [round(x, 2) for x in load_before],
                       "loadavg_after": [round(x, 2) for x in os.getloadavg()], "index": health,
                       "command": " ".join([Path(sys.executable).name, *sys.argv])})
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
