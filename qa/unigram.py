"""The e5 tokenizer in ~57 MiB instead of ~280 MiB: the same Unigram (SentencePiece-style) segmentation
as the exported `tokenizer.json`, with the Viterbi search in Python over a plain dict of pieces.

Why: `tokenizers.Tokenizer.from_file` on e5's 250,002-piece vocabulary builds a byte trie with a hash
map in every node, ~280 MB resident — more than half of what a serving process held after the
embedding table left the ONNX graph (bench/bench_memory.py, BENCHMARKS.md). Queries are short, so a
Python Viterbi costs well under a millisecond a question (passages while indexing: about a
millisecond each, next to ~80 ms of the encoder).

What is reproduced, step for step, from `tokenizers` (model.rs `encode_optimized`, metaspace.rs,
added_vocabulary.rs), so that the ids are the same — `tests/test_e5_export.py` compares them with the
`tokenizers` pipeline on every line of the corpora and on edge cases:

- special tokens (`<s>`, `</s>`, `<pad>`, `<unk>`, `<mask>`) written in the text are split out first,
  leftmost-longest, and kept as their ids;
- each other segment goes through `tokenizers`' own normaliser (the precompiled SentencePiece charsmap,
  then runs of spaces to one) and Metaspace pre-tokeniser (spaces to ▁, ▁ prepended to the segment
  at offset 0 only, split before each ▁) — these are small objects, only the model is replaced;
- the Viterbi: positions left to right, candidates by increasing length, a candidate replaces the best
  path ending at its end only if strictly better (or nothing ended there yet); a character no piece
  starts with becomes `<unk>` scored min_score − 10; consecutive unknowns fuse into one `<unk>`;
- `<s>` … `</s>` around the content, truncated to `max_length` tokens in all.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY
PIECES = "unigram-pieces.txt"  # one piece per line, in id order
SCORES = "unigram-scores.npy"  # float64, the bin's float32 scores widened (as tokenizers reads them)
CHARSMAP = "unigram-charsmap.bin"  # the precompiled normalisation map of tokenizer.json


def write_unigram(pieces: list[str], scores: np.ndarray, charsmap: bytes, folder: Path) -> None:
    """Store what `UnigramTokenizer` loads (beside tokenizer.json, in the ONNX export)."""
    if any("\n" in p for p in pieces):
        raise ValueError("a piece holds a newline: the one-per-line file cannot store it")
    (folder / PIECES).write_text("\n".join(pieces), encoding="utf-8")
    np.save(folder / SCORES, np.asarray(scores, dtype=np.float64))
    (folder / CHARSMAP).write_bytes(charsmap)


def has_unigram(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (PIECES, SCORES, CHARSMAP))


class UnigramTokenizer:
    """Token ids of texts, as `tokenizers.Tokenizer.encode(text).ids` gives them for the e5 export."""

    def __init__(self, folder: Path, unk_id: int, bos_id: int, eos_id: int, max_length: int,
                 specials: list[str]) -> None:
        from tokenizers import Regex, normalizers, pre_tokenizers

        folder = Path(folder)
        pieces = (folder / PIECES).read_text(encoding="utf-8").split("\n")
        self._scores = np.load(folder / SCORES).tolist()  # Python floats: the sums are f64 as in Rust
        if len(self._scores) != len(pieces):
            raise ValueError(f"{folder}: {len(pieces)} pieces but {len(self._scores)} scores")
        self._ids = {p: i for i, p in enumerate(pieces)}  # a later duplicate wins, as in a HashMap insert
        # longest piece starting with each character: how far the Viterbi has to look from there
        self._reach: dict[str, int] = {}
        for p in pieces:
            if p and len(p) > self._reach.get(p[0], 0):
                self._reach[p[0]] = len(p)
        self._unk_score = min(self._scores) - UNK_PENALTY
        self._unk, self._bos, self._eos, self._max = unk_id, bos_id, eos_id, max_length
        self._special_ids = {s: self._ids[s] for s in specials if s in self._ids}
        self._specials = re.compile("|".join(re.escape(s) for s in sorted(self._special_ids, key=len, reverse=True))) \
            if self._special_ids else None
        self._normalizer = normalizers.Sequence([
            normalizers.Precompiled((folder / CHARSMAP).read_bytes()),
            normalizers.Replace(Regex(" {2,}"), " "),
        ])
        self._first = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
        self._rest = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never", split=True)

    # -- the pipeline -------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        content: list[int] = []
        for segment, offset, special in self._segments(text):
            if special:
                content.append(self._special_ids[segment])
                continue
            normalized = self._normalizer.normalize_str(segment)
            if not normalized:
                continue
            # "first": ▁ is prepended only to the segment that starts the original text
            pre = self._first if offset == 0 else self._rest
            for word, _ in pre.pre_tokenize_str(normalized):
                content.extend(self._viterbi(word))
        return [self._bos, *content[: max(0, self._max - 2)], self._eos]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def _segments(self, text: str):
        """(segment, offset in `text`, is_special) in order; special tokens split out leftmost-longest."""
        if self._specials is None:
            yield text, 0, False
            return
        start = 0
        for m in self._specials.finditer(text):
            if m.start() > start:
                yield text[start:m.start()], start, False
            yield m.group(0), m.start(), True
            start = m.end()
        if start < len(text):
            yield text[start:], start, False

    def _viterbi(self, word: str) -> list[int]:
        n = len(word)
        if n == 0:
            return []
        ids, scores, reach, unk_score = self._ids, self._scores, self._reach, self._unk_score
        best = [0.0] * (n + 1)
        start_of: list[int | None] = [None] * (n + 1)
        id_at = [0] * (n + 1)
        for i in range(n):
            here = best[i]
            single = False
            for end in range(i + 1, min(n, i + reach.get(word[i], 0)) + 1):
                token = ids.get(word[i:end])
                if token is None:
                    continue
                score = scores[token] + here
                if start_of[end] is None or score > best[end]:
                    best[end], start_of[end], id_at[end] = score, i, token
                if end == i + 1:
                    single = True
            if not single:
                score = unk_score + here
                if start_of[i + 1] is None or score > best[i + 1]:
                    best[i + 1], start_of[i + 1], id_at[i + 1] = score, i, self._unk
        out: list[int] = []
        end = n
        previous_unk = False
        while end > 0:
            begin = start_of[end]
            token = id_at[end]
            if token == self._unk:
                if not previous_unk:  # consecutive unknowns are one <unk> (fuse_unk)
                    out.append(token)
                previous_unk = True
            else:
                out.append(token)
                previous_unk = False
            end = begin  # type: ignore[assignment]
        out.reverse()
        return out
