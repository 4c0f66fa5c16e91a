"""Bulk embedding on Ray: `qa index --ray local|ADDRESS` (`QA_RAY_ADDRESS`).

Passages are embedded by Ray Data `map_batches` over an actor pool (`ActorPoolStrategy`): each actor
loads the embedder once (the same `QA_EMBEDDER` spec, so the same model and id) and embeds whole
batches. The batches are the ones the in-process embedder would form (length-sorted, its batch
size), each kept intact as one dataset row: e5-onnx quantises activations per batch, so other
batches would give slightly different vectors. Every actor thus computes exactly what the service
would have computed in-process (tests/test_ray.py checks `np.allclose`).

`local` starts a private Ray instance on this machine (no dashboard, `QA_INDEX_THREADS` CPUs);
anything else is passed to `ray.init(address=...)`: `auto`, `ray://head:10001`, `head:6379`. Every
node of a cluster needs gazette-qa installed (the actors import `qa.embedders`) and, for `st:` models,
the model files; `QA_RAY_ACTORS` actors are started, each asking for `QA_INDEX_THREADS // actors` CPUs
(locally), or `QA_RAY_GPUS` GPUs (a GPU model: `QA_EMBEDDER=st:<local model path>`, which runs on CUDA
where the actor has it). Queries are still embedded in-process.

Ray is an extra (`pip install 'gazette-qa[ray]'`): nothing imports this module unless `--ray` is given.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .embedders import Embedder, EmbedderError, ProgressFn, _length_sorted_batches

log = logging.getLogger(__name__)


class _EmbedActor:
    """One embedding model in a Ray actor: a dataset row is one batch of passages (JSON list)."""

    def __init__(self, spec: str, threads: int) -> None:
        from .embedders import make_embedder

        self.embedder = make_embedder(spec, omp_threads=threads, index_threads=threads)

    def __call__(self, batch: dict) -> dict:
        rows: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        for idx, texts in zip(batch["idx"], batch["texts"]):
            texts = json.loads(texts)
            # one in-process batch, as embed_passages would embed it
            raw = self.embedder._passages(texts) if hasattr(self.embedder, "_passages") else \
                self.embedder.embed_passages(texts)
            vectors.append(np.asarray(raw, dtype=np.float32))
            rows.append(np.asarray(json.loads(idx), dtype=np.int64))
        vec = np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
        norms = np.linalg.norm(vec, axis=-1, keepdims=True)
        return {"row": np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
                "vector": vec / np.maximum(norms, 1e-12)}


class RayEmbedder:
    """An `Embedder` whose passages are embedded on Ray; queries go to the in-process `base`."""

    def __init__(self, base: Embedder, spec: str, address: str, actors: int = 1, threads: int | None = None,
                 rows_per_task: int = 4, gpus_per_actor: float = 0.0) -> None:
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError as e:
            raise EmbedderError("--ray needs Ray Data: pip install 'gazette-qa[ray]'") from e
        self.base = base
        self.spec = spec
        self.address = address
        self.actors = max(1, actors)
        self.threads = max(1, threads or (os.cpu_count() or 1) // self.actors)
        self.rows_per_task = rows_per_task
        # GPUs are asked for explicitly: the driver (where this runs) often has none while the workers do
        self.gpus = gpus_per_actor or (1.0 if getattr(base, "device", "cpu") == "cuda" else 0.0)
        self.id = base.id
        self.dim = base.dim

    def _init(self) -> None:
        import ray

        if ray.is_initialized():
            return
        if self.address == "local":
            # the actors must import this checkout's `qa` (it may not be the installed one)
            here = str(Path(__file__).resolve().parents[1])
            path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
            for attempt in (1, 2):
                try:
                    ray.init(num_cpus=self.actors * self.threads, include_dashboard=False, log_to_driver=False,
                             configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
                    break
                except Exception as e:
                    # Ray gives its raylet a fixed 30 s to register; a busy machine can take longer once
                    if attempt == 2 or "timed out during startup" not in str(e):
                        raise
                    log.warning("Ray did not start in time (%s); trying once more", e)
                    ray.shutdown()
        else:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-dataset INFO lines; our own log says it

    def embed_query(self, text: str) -> np.ndarray:
        return self.base.embed_query(text)

    def embed_passages(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        import ray
        import ray.data

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        self._init()
        size = getattr(self.base, "_batch", 16)
        batches = _length_sorted_batches(texts, size)
        items = [{"idx": json.dumps(b), "texts": json.dumps([texts[i] for i in b], ensure_ascii=False)}
                 for b in batches]
        gpu = self.gpus > 0
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), self.actors * 4)))
        ds = ds.map_batches(_EmbedActor, fn_constructor_kwargs={"spec": self.spec, "threads": self.threads},
                            compute=ray.data.ActorPoolStrategy(size=self.actors), batch_size=self.rows_per_task,
                            batch_format="numpy", num_cpus=1 if gpu else self.threads, num_gpus=self.gpus)
        done = 0
        for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
            rows = batch["row"]
            out[rows] = batch["vector"]
            done += len(rows)
            if progress:
                progress(len(rows))
        if done != len(texts):
            raise RuntimeError(f"Ray returned {done} vectors for {len(texts)} passages")
        log.info("embedded %d passages on Ray (%s, %d actor(s) × %d thread(s))", len(texts), self.address,
                 self.actors, self.threads)
        return out

    def shutdown(self) -> None:
        import ray

        if self.address == "local" and ray.is_initialized():
            ray.shutdown()
