"""Bulk embedding on Ray Data (`qa index --ray`): a local Ray instance with one actor embeds a few
passages into exactly the vectors the in-process embedder gives. Kept small — starting Ray costs
about ten seconds here; `tests/test_milvus.py` runs the command line with `--ray local` once."""
from __future__ import annotations

import numpy as np

from tests.conftest import EMBEDDER, require_extra


def test_ray_embeds_the_same_vectors_as_in_process(embedder):
    require_extra("ray", "ray")
    from qa.ray_embed import RayEmbedder

    texts = [f"第{i}条 青铜峡市水务局负责农村供水管网巡检，每年{i}月底前完成。" * (1 + i % 4) for i in range(21)]
    on_ray = RayEmbedder(embedder, EMBEDDER, "local", actors=1, threads=1)
    seen: list[int] = []
    try:
        got = on_ray.embed_passages(texts, progress=seen.append)
    finally:
        on_ray.shutdown()
    expected = embedder.embed_passages(texts)
    assert got.shape == expected.shape == (21, embedder.dim)
    assert np.allclose(got, expected, atol=1e-6)
    assert sum(seen) == 21 and on_ray.id == embedder.id
