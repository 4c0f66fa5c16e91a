"""The Milvus store: the index as one Milvus collection per build, named by an alias, through
pymilvus's `MilvusClient` — one code path for an embedded milvus-lite (a local path) and a Milvus
standalone or cluster (`http(s)://host:19530`).

Layout. A build is the collection `<alias>__<build id>`; the alias (`QA_MILVUS_COLLECTION`, default
`gazette_qa`) names the serving one. Everything a build consists of lives in that one collection, so
one alias swap publishes all of it at once. Every row has the same fields:

    pk      VARCHAR   c<seq> chunk, w<seq>.<k> window, d/<doc_id> document, t/<doc_id>/<gen>/<part>
                      document text, m/<name>/<part> metadata blob
    row     VARCHAR   chunk | window | doc | text | meta
    seq     INT64     a chunk's position (chunks load in seq order); a window's: its chunk's
    gen     INT64     the revision that wrote the row (see add/remove below)
    doc_id, issuer, source, kind  VARCHAR; date INT64 (yyyymmdd, 0 unknown)  — scalar fields for filters,
                      on chunk and window rows alike, so one expression scopes every search
    name    VARCHAR   a metadata blob's name (manifest, lexicon, terms, extra/<name>)
    dense   FLOAT_VECTOR(dim), COSINE — chunks and sentence windows (other rows: a unit vector)
    sparse  SPARSE_FLOAT_VECTOR, IP — a chunk's BM25 term weights, computed here from the same jieba
                      tokens as the files store's bm25s (other rows: one sentinel dimension)
    data    VARCHAR   JSON: the chunk (text, section, offsets, its tokens and vector key), a document's
                      metadata, or a part (≤ 16,000 characters) of a longer blob

BM25 without re-weighting: a chunk's sparse vector holds tf / (tf + k1·(1 − b + b·dl/avgdl)) per term;
the query's holds each term's IDF, computed from the document frequencies in the `lexicon` blob.
Their inner product is bm25s's score (same k1, b, IDF formula), so chunks written once never need
re-weighting as the corpus changes; avgdl stays the build's until the next full build. Milvus's own
BM25 function was not usable: milvus-lite has no "chinese" analyzer, and its server-side BM25 computes
IDF per segment and returned negative scores (BENCHMARKS.md).

Vector index: FLAT on milvus-lite (exact, and filters are exact); on a server FLAT up to 200k chunks,
HNSW above (Milvus filters HNSW searches with a bitset during the graph walk). `QA_VECTOR_INDEX`
forces one (flat, hnsw, ivf → IVF_FLAT).

Rebuilds write a new collection and then swap the alias: a crash mid-build leaves the old build
serving (the half-written collection is dropped by a later build). The previous build is kept one
build longer, for a server that still reads it until it notices the swap.

add/remove change the serving collection in place (upsert, delete). Each document's rows carry the
revision (`gen`) that wrote them and its `doc` row names the one that serves; new rows are written
first, then the metadata, then the old rows are deleted. A crash in between leaves every document
whole (old or new version), never half of one; stray rows are ignored when loading and deleted by
the next change.

A local path (not http/https/tcp) is milvus-lite: the first process that opens it serves it on a
loopback gRPC port from inside itself and writes that port into `<path>/qa-endpoint.json`; other
processes (a `qa index add` while `qa serve` runs) find the data folder locked and connect to that
port. When the hosting process exits, the next call reconnects (and hosts it itself if nobody does).
"""
from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ..model import Chunk, Document
from ..segment import Segmenter
from .base import (FORMAT_VERSION, BuildData, IndexCorrupt, IndexNotFound, LoadedIndex, Manifest, Previous,
                   Store, StoreUnavailable, check_manifest)
from .files import group_reading, index_lock
from .milvus_filters import SENTINEL, date_number, doc_weights, idf, literal, query_weights

log = logging.getLogger(__name__)

from . import POINTER  # in the index folder: which store and collection `--index DIR` means
ENDPOINT = "qa-endpoint.json"  # in a milvus-lite data folder: the port of the process serving it
PART_CHARS = 16_000  # characters of a blob per row: ≤ 64,000 bytes of UTF-8 in a VARCHAR(65535)
MAX_DATA_BYTES = 65_535
BATCH_ROWS = 256  # rows per insert call
FLAT_MAX = 200_000
KEEP_BUILDS = 2  # the serving build and the one before it
PARTIAL_TTL_S = 24 * 3600  # an unpublished build younger than this may still be written by someone
ROWS_WITH_VECTORS = ("chunk", "window")


# -- connections -------------------------------------------------------------------------------------

def is_remote(uri: str) -> bool:
    return bool(re.match(r"^(https?|tcp|unix)://", uri or "", re.IGNORECASE)) or (uri or "").startswith("unix:")


_HOSTED: dict[str, tuple[Any, Any, int]] = {}  # data folder → (grpc server, MilvusLite, port) served here
_HOSTED_LOCK = threading.Lock()


def _release_hosted() -> None:
    with _HOSTED_LOCK:
        items = list(_HOSTED.items())
        _HOSTED.clear()
    for path, (server, db, _) in items:
        try:
            server.stop(grace=1)
        finally:
            db.close()
        try:
            os.unlink(os.path.join(path, ENDPOINT))
        except OSError:
            pass


atexit.register(_release_hosted)


def _read_endpoint(path: str) -> tuple[str, int] | None:
    try:
        info = json.loads(Path(path, ENDPOINT).read_text(encoding="utf-8"))
        return f"http://127.0.0.1:{int(info['port'])}", int(info.get("pid", 0))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def local_endpoint(path: str, wait_s: float = 30.0) -> str:
    """The gRPC address of the milvus-lite data folder `path`: served from this process when nobody
    serves it yet, else the port the serving process wrote down."""
    path = os.path.abspath(path)
    with _HOSTED_LOCK:
        if path in _HOSTED:
            return f"http://127.0.0.1:{_HOSTED[path][2]}"
    try:
        from milvus_lite import DataDirLockedError
        from milvus_lite.adapter.grpc.server import start_server_in_thread
    except ImportError as e:
        raise StoreUnavailable("QA_MILVUS_URI is a local path, which needs milvus-lite: "
                               "pip install 'gazette-qa[milvus]'") from e
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            server, db, port = start_server_in_thread(path, host="127.0.0.1", port=0)
        except DataDirLockedError:
            found = _read_endpoint(path)
            if found is not None and _answers(found[0]):
                return found[0]
            if time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"milvus-lite data folder {path} is held by another process"
                    + (f" (pid {found[1]})" if found else "") + " whose endpoint does not answer; stop it or "
                    "point QA_MILVUS_URI at a Milvus server") from None
            time.sleep(0.2)
            continue
        tmp = Path(path, f".{ENDPOINT}.{uuid.uuid4().hex[:6]}")
        tmp.write_text(json.dumps({"port": port, "pid": os.getpid()}), encoding="utf-8")
        os.replace(tmp, Path(path, ENDPOINT))
        with _HOSTED_LOCK:
            _HOSTED[path] = (server, db, port)
        log.info("serving milvus-lite %s on 127.0.0.1:%d for other processes", path, port)
        return f"http://127.0.0.1:{port}"


def _answers(uri: str) -> bool:
    from pymilvus import MilvusClient

    try:
        client = MilvusClient(uri=uri, timeout=5)
        client.list_collections(timeout=5)
        client.close()
        return True
    except Exception:
        return False


def _is_connection_error(e: BaseException) -> bool:
    code = getattr(e, "code", None)
    text = str(e)
    return code == 2 or "Fail connecting" in text or "UNAVAILABLE" in text or "Connection refused" in text


class Connection:
    """A `MilvusClient` for a URI that reconnects once when the server went away (a local path's
    hosting process exited: the next one hosts it)."""

    def __init__(self, uri: str, token: str | None = None) -> None:
        self.uri = uri
        self.token = token or ""
        self._client = None
        self._lock = threading.Lock()

    @property
    def remote(self) -> bool:
        return is_remote(self.uri)

    def _open(self):
        try:
            from pymilvus import MilvusClient
        except ImportError as e:
            raise StoreUnavailable("QA_STORE=milvus needs pymilvus: pip install 'gazette-qa[milvus]'") from e
        address = self.uri if self.remote else local_endpoint(self.uri)
        try:
            # no keepalive pings on an idle connection: milvus-lite's gRPC server (Python grpc defaults)
            # answers pings without calls by closing the connection ("too_many_pings") after a few
            # minutes of idleness, e.g. a server between two reload checks; gRPC reconnects on the next call
            return MilvusClient(uri=address, token=self.token, timeout=30,
                                grpc_options={"grpc.keepalive_permit_without_calls": False,
                                              "grpc.keepalive_time_ms": 60_000})
        except Exception as e:
            raise StoreUnavailable(f"cannot reach Milvus at {self.uri}: {e}") from e

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._open()
            return self._client

    def call(self, fn: Callable[[Any], Any]) -> Any:
        client = self.client
        try:
            return fn(client)
        except Exception as e:
            if not _is_connection_error(e):
                raise
            with self._lock:
                if self._client is client:
                    self._client = None
            try:
                return fn(self.client)
            except Exception as e2:
                if _is_connection_error(e2):
                    raise StoreUnavailable(f"cannot reach Milvus at {self.uri}: {e2}") from e2
                raise


# -- rows --------------------------------------------------------------------------------------------

def _parts(text: str) -> list[str]:
    return [text[i: i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


def _encode_extra(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return json.dumps({"bytes": base64.b64encode(bytes(value)).decode("ascii")})
    return json.dumps({"json": value}, ensure_ascii=False)


def _decode_extra(text: str) -> Any:
    obj = json.loads(text)
    return base64.b64decode(obj["bytes"]) if "bytes" in obj else obj["json"]


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,200}", name):
        raise ValueError(f"extra name {name!r} is not a plain name (letters, digits, _ . -)")
    return name


class _Rows:
    """Builds rows of one collection (its dimension) with the fields every row has."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.unit = [1.0] + [0.0] * (dim - 1)

    def row(self, pk: str, kind_of_row: str, *, seq: int = -1, gen: int = 0, doc: dict | None = None,
            chunk_kind: str = "", name: str = "", dense: Any = None, sparse: dict | None = None,
            data: str = "") -> dict:
        if len(data.encode("utf-8")) > MAX_DATA_BYTES:
            raise ValueError(f"row {pk} holds {len(data.encode('utf-8'))} bytes, over Milvus's 65,535 per VARCHAR")
        doc = doc or {}
        return {"pk": pk, "row": kind_of_row, "seq": seq, "gen": gen, "doc_id": doc.get("doc_id") or "",
                "issuer": (doc.get("issuer") or "")[:600], "date": _date(doc.get("date")),
                "source": (doc.get("source") or "")[:600], "kind": chunk_kind, "name": name,
                "dense": self.unit if dense is None else [float(x) for x in dense],
                "sparse": sparse or {SENTINEL: 1.0}, "data": data}

    def blob(self, name: str, text: str, gen: int = 0) -> list[dict]:
        return [self.row(f"m/{name}/{i:05d}", "meta", gen=gen, name=name, data=part)
                for i, part in enumerate(_parts(text))]

    def doc(self, meta: dict, seq: int, gen: int) -> dict:
        return self.row(f"d/{meta['doc_id']}", "doc", seq=seq, gen=gen, doc=meta,
                        data=json.dumps(meta, ensure_ascii=False))

    def text(self, meta: dict, text: dict, gen: int) -> list[dict]:
        body = json.dumps(text, ensure_ascii=False)
        return [self.row(f"t/{meta['doc_id']}/{gen}/{i:05d}", "text", gen=gen, doc=meta, data=part)
                for i, part in enumerate(_parts(body))]


def _chunk_data(chunk: Chunk, key: str, tokens: list[str], windows: int) -> str:
    """A chunk's JSON: what the files store's chunks.jsonl holds, plus its vector key, its number of
    sentence windows and its tokens (reused by a rebuild; dropped when a huge chunk would not fit)."""
    record = {**asdict(chunk), "key": key, "windows": windows, "tokens": tokens}
    text = json.dumps(record, ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_DATA_BYTES:
        record.pop("tokens")
        text = json.dumps(record, ensure_ascii=False)
    return text


def _count_terms(vocab: dict[str, int], df: list[int], token_lists: list[list[str]]) -> None:
    """Add each chunk's distinct terms to `vocab` (new terms take the next id) and their document
    frequencies to `df`, in place."""
    for tokens in token_lists:
        for t in dict.fromkeys(tokens):
            i = vocab.get(t)
            if i is None:
                vocab[t] = len(df)
                df.append(1)
            else:
                df[i] += 1


def _lexicon(token_lists: list[list[str]]) -> dict:
    """Vocabulary (term → id by first occurrence), document frequencies, N and avgdl of a build's
    chunks, as bm25s computes them (a chunk without tokens counts as length 1, as its [""] does)."""
    vocab: dict[str, int] = {}
    df: list[int] = []
    _count_terms(vocab, df, token_lists)
    total = sum(max(1, len(tokens)) for tokens in token_lists)
    n = len(token_lists)
    return {"terms": list(vocab), "df": df, "n": n, "avgdl": total / n if n else 1.0}


def _extend_lexicon(lex: dict, added: list[list[str]], removed_ids: list[list[int]]) -> dict:
    """The lexicon after chunks were added (their tokens) and removed (their term ids); avgdl stays."""
    vocab = {t: i for i, t in enumerate(lex["terms"])}
    df = list(lex["df"])
    _count_terms(vocab, df, added)
    for ids in removed_ids:
        for i in set(ids):
            if 0 <= i < len(df):
                df[i] = max(0, df[i] - 1)
    return {"terms": list(vocab), "df": df, "n": max(0, lex["n"] + len(added) - len(removed_ids)),
            "avgdl": lex["avgdl"]}


def _index_kind(kind: str, n: int, remote: bool) -> str:
    """flat, hnsw or ivf: what `QA_VECTOR_INDEX` asks for, `auto` resolved for this store and size."""
    kind = {"ivf_flat": "ivf"}.get(kind, kind)
    if kind == "auto":
        return "flat" if not remote or n <= FLAT_MAX else "hnsw"
    if kind not in ("flat", "hnsw", "ivf"):
        raise ValueError(f"unknown vector index kind {kind!r}: use auto, flat, ivf or hnsw")
    return kind


def _index_type(kind: str, n: int, remote: bool) -> tuple[str, dict, dict]:
    """(Milvus index type, build params, search params) of the dense field."""
    kind = _index_kind(kind, n, remote)
    if kind == "flat":
        return "FLAT", {}, {}
    if kind == "hnsw":
        return "HNSW", {"M": 32, "efConstruction": 200}, {"ef": 128}
    nlist = max(1, min(int(4 * np.sqrt(max(n, 1))), 65536))
    return "IVF_FLAT", {"nlist": nlist}, {"nprobe": min(nlist, 32)}


# -- the store ---------------------------------------------------------------------------------------

class MilvusStore(Store):
    """Builds as Milvus collections behind an alias; the index folder holds the build lock and a
    pointer (`store.json`) so that `qa … --index DIR` finds the collection again."""

    kind = "milvus"
    incremental = True

    def __init__(self, index_dir: Path, uri: str, token: str | None = None, alias: str = "gazette_qa",
                 vector_index: str = "auto") -> None:
        self.index_dir = Path(index_dir)
        self.uri = uri
        self.alias = alias
        self.vector_index = vector_index
        self.conn = Connection(uri, token)
        self._loaded: set[tuple[int, str]] = set()

    # -- where -------------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return f"{self.uri} (collection {self.alias})"

    def describe(self) -> dict:
        return {"store": self.kind, "milvus_uri": self.uri if not self.conn.remote else _without_secret(self.uri),
                "collection": self.alias}

    def lock(self):
        return index_lock(self.index_dir)

    def _serving(self) -> str | None:
        """The collection the alias names, None when there is none."""
        def describe(client):
            # asking for a missing alias makes pymilvus log a traceback: look it up in the list first
            if self.alias not in (client.list_aliases().get("aliases") or []):
                return None
            return client.describe_alias(self.alias)["collection_name"]
        name = self.conn.call(describe)
        if name is not None:
            self._ensure_loaded(name)
        return name

    def _ensure_loaded(self, collection: str) -> None:
        """Milvus serves only loaded collections (a restarted milvus-lite starts with none loaded)."""
        client = self.conn.client
        key = (id(client), collection)
        if key in self._loaded:
            return
        state = self.conn.call(lambda c: c.get_load_state(collection))
        if "Loaded" not in str(state.get("state")) or "NotLoad" in str(state.get("state")):
            self.conn.call(lambda c: c.load_collection(collection))
        self._loaded.add(key)

    def _blob(self, collection: str, name: str) -> str | None:
        rows = self.conn.call(lambda c: c.query(collection, filter=f'row == "meta" and name == {literal(name)}',
                                                output_fields=["pk", "data"]))
        if not rows:
            return None
        return "".join(r["data"] for r in sorted(rows, key=lambda r: r["pk"]))

    def _state(self, collection: str) -> dict | None:
        text = self._blob(collection, "manifest")
        return json.loads(text) if text else None

    def version(self) -> str | None:
        collection = self._serving()
        if collection is None:
            return None
        state = self._state(collection)
        return f"{collection}@{state['revision']}" if state else None

    def manifest(self) -> Manifest | None:
        collection = self._serving()
        state = self._state(collection) if collection else None
        return Manifest.from_dict(state["manifest"]) if state else None

    def documents(self) -> list[dict]:
        collection = self._serving()
        if collection is None:
            return []
        rows = self._query_all(collection, 'row == "doc"', ["seq", "data"])
        return [json.loads(r["data"]) for r in sorted(rows, key=lambda r: r["seq"])]

    def extras(self) -> dict:
        collection = self._serving()
        return self._extras(collection) if collection else {}

    def _extras(self, collection: str) -> dict:
        rows = self._query_all(collection, 'row == "meta" and name like "extra/%"', ["pk", "name", "data"])
        by_name: dict[str, list[dict]] = {}
        for r in rows:
            by_name.setdefault(r["name"].removeprefix("extra/"), []).append(r)
        return {name: _decode_extra("".join(r["data"] for r in sorted(parts, key=lambda r: r["pk"])))
                for name, parts in sorted(by_name.items())}

    def _query_all(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        """Every row matching `expr` (queries are capped at 16,384 rows: page through with an iterator)."""
        def run(client):
            it = client.query_iterator(collection, batch_size=2000, filter=expr, output_fields=fields)
            out: list[dict] = []
            try:
                while True:
                    batch = it.next()
                    if not batch:
                        return out
                    out.extend(batch)
            finally:
                it.close()
        return self.conn.call(run)

    # -- writing a build ---------------------------------------------------------------------------

    def _create(self, collection: str, dim: int, n: int) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("row", DataType.VARCHAR, max_length=8)
        schema.add_field("seq", DataType.INT64)
        schema.add_field("gen", DataType.INT64)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=256)
        schema.add_field("issuer", DataType.VARCHAR, max_length=1024)
        schema.add_field("date", DataType.INT64)
        schema.add_field("source", DataType.VARCHAR, max_length=2048)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        schema.add_field("name", DataType.VARCHAR, max_length=256)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("data", DataType.VARCHAR, max_length=MAX_DATA_BYTES)
        index_type, params, _ = _index_type(self.vector_index, n, self.conn.remote)

        def create(client):
            ip = client.prepare_index_params()
            ip.add_index("dense", index_type=index_type, metric_type="COSINE", params=params)
            ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
            client.create_collection(collection, schema=schema, index_params=ip, consistency_level="Strong")
        self.conn.call(create)

    def _insert(self, collection: str, rows: Iterable[dict]) -> int:
        n = 0
        batch: list[dict] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                self.conn.call(lambda c, b=batch: c.insert(collection, b))
                n += len(batch)
                batch = []
        if batch:
            self.conn.call(lambda c: c.insert(collection, batch))
            n += len(batch)
        return n

    def write(self, data: BuildData) -> Manifest:
        if data.vectors is None or not data.dim:
            raise ValueError("the Milvus store keeps dense vectors: build with an embedder")
        build_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        collection = f"{self.alias}__{build_id.replace('-', '_')}"
        t0 = time.perf_counter()
        self._create(collection, data.dim, len(data.chunks))
        try:
            lex = _lexicon(data.token_lists)
            rows = _Rows(data.dim)
            self._insert(collection, self._build_rows(rows, data, lex, gen=0, first_seq=0))
            for name, value in (data.extras or {}).items():
                self._insert(collection, rows.blob(f"extra/{_check_name(name)}", _encode_extra(value)))
            self._insert(collection, rows.blob("lexicon", json.dumps(lex, ensure_ascii=False)))
            self._insert(collection, rows.blob("terms", json.dumps(data.segmenter.domain_terms, ensure_ascii=False)))
            index_kind = _index_kind(self.vector_index, len(data.chunks), self.conn.remote)
            manifest = Manifest(
                format_version=FORMAT_VERSION, build_id=build_id, built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                embedder=data.embedder_id, dim=data.dim, corpus=data.corpus,
                counts={"documents": len(data.documents), "chunks": len(data.chunks),
                        "windows": len(data.window_owner)},
                timings={**data.timings, "store": time.perf_counter() - t0}, vector_index=index_kind,
                excluded_docs=list(data.excluded_docs), reading=data.reading, store="milvus")
            previous = self._serving()
            state = {"manifest": asdict(manifest), "collection": collection, "revision": 0,
                     "next_seq": len(data.chunks), "previous": previous}
            # the manifest last: a collection without one is an unfinished build
            self._insert(collection, rows.blob("manifest", json.dumps(state, ensure_ascii=False)))
            self.conn.call(lambda c: c.flush(collection))
            self._publish(collection)
        except BaseException:
            try:
                self.conn.call(lambda c: c.drop_collection(collection))
            except Exception:  # the next build drops it
                log.warning("could not drop the unfinished collection %s", collection)
            raise
        self._write_pointer()
        self._prune(serving=collection, previous=previous)
        return manifest

    def _build_rows(self, rows: _Rows, data: BuildData, lex: dict, gen: int, first_seq: int) -> Iterator[dict]:
        """Chunk, window, document and text rows of `data` (chunks numbered from `first_seq`)."""
        vocab = {t: i for i, t in enumerate(lex["terms"])}
        docs = {d.doc_id: d.metadata() for d in data.documents}
        windows_of: dict[int, list[int]] = {}
        for j, owner in enumerate(data.window_owner):
            windows_of.setdefault(owner, []).append(j)
        first_chunk: dict[str, int] = {}
        for i, chunk in enumerate(data.chunks):
            seq = first_seq + i
            first_chunk.setdefault(chunk.doc_id, seq)
            doc = docs.get(chunk.doc_id)
            key = data.vector_keys[i] if data.vector_keys else ""
            mine = windows_of.get(i, [])
            yield rows.row(f"c{seq}", "chunk", seq=seq, gen=gen, doc=doc, chunk_kind=chunk.kind,
                           dense=data.vectors[i], sparse=doc_weights(data.token_lists[i], vocab, lex["avgdl"]),
                           data=_chunk_data(chunk, key, data.token_lists[i], len(mine)))
            for k, j in enumerate(mine):
                wkey = data.window_keys[j] if data.window_keys else ""
                yield rows.row(f"w{seq}.{k}", "window", seq=seq, gen=gen, doc=doc, chunk_kind=chunk.kind,
                               dense=data.window_vectors[j], data=json.dumps({"key": wkey}))
        for d in data.documents:
            meta = docs[d.doc_id]
            yield rows.doc(meta, first_chunk.get(d.doc_id, first_seq + len(data.chunks)), gen)
            if d.doc_id in data.doc_texts:
                yield from rows.text(meta, data.doc_texts[d.doc_id], gen)

    def _publish(self, collection: str) -> None:
        def swap(client):
            if self._serving() is None:
                client.create_alias(collection, self.alias)
            else:
                client.alter_alias(collection, self.alias)
        self.conn.call(swap)
        log.info("milvus: alias %s → %s", self.alias, collection)

    def _write_pointer(self) -> None:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        uri = self.uri if self.conn.remote else str(Path(self.uri).resolve())
        tmp = self.index_dir / f".{POINTER}.{uuid.uuid4().hex[:6]}"
        tmp.write_text(json.dumps({"store": "milvus", "uri": uri, "collection": self.alias}, indent=1),
                       encoding="utf-8")
        os.replace(tmp, self.index_dir / POINTER)

    def _prune(self, serving: str, previous: str | None) -> None:
        """Drop this alias's collections but the serving one and the one it replaced (a server may
        read that one until it notices the swap); an unfinished build younger than a day is left
        alone: it may be another machine's build in progress."""
        prefix = f"{self.alias}__"
        try:
            names = [n for n in self.conn.call(lambda c: c.list_collections()) if n.startswith(prefix)]
            serving_time = _build_time(serving.removeprefix(prefix)) or time.time()
            for name in names:
                if name in (serving, previous):
                    continue
                started = _build_time(name.removeprefix(prefix))
                if started is None or (started > serving_time and time.time() - started < PARTIAL_TTL_S):
                    continue
                self.conn.call(lambda c, n=name: c.drop_collection(n))
                log.info("milvus: dropped old collection %s", name)
        except Exception as e:  # pruning is housekeeping: the build is published either way
            log.warning("milvus: could not prune old collections: %s", e)

    # -- reading a build ---------------------------------------------------------------------------

    def _require(self) -> tuple[str, dict]:
        collection = self._serving()
        if collection is None:
            raise IndexNotFound(f"no index in Milvus at {self.location} yet; build one with "
                                f"`qa index --store milvus --milvus-uri {self.uri} --index {self.index_dir}`")
        state = self._state(collection)
        if state is None:
            raise IndexCorrupt(f"Milvus collection {collection} (alias {self.alias}) has no manifest; "
                               "rebuild with `qa index`")
        return collection, state

    def _docs(self, collection: str) -> dict[str, tuple[dict, int, int]]:
        """doc_id → (metadata, serving gen, seq)."""
        return {r["doc_id"]: (json.loads(r["data"]), r["gen"], r["seq"])
                for r in self._query_all(collection, 'row == "doc"', ["doc_id", "gen", "seq", "data"])}

    def _chunk_records(self, collection: str, docs: dict[str, tuple[dict, int, int]]) -> list[dict]:
        """The serving chunk records (JSON) in seq order, each with its seq; rows of a document's
        other generation (a crash mid-change) or of no document are left out."""
        out = []
        for r in self._query_all(collection, 'row == "chunk"', ["seq", "gen", "doc_id", "data"]):
            doc = docs.get(r["doc_id"])
            if doc is None or doc[1] != r["gen"]:
                continue
            record = json.loads(r["data"])
            record["seq"] = r["seq"]
            out.append(record)
        out.sort(key=lambda rec: rec["seq"])
        return out

    def load(self, embedder_id: str | None = None, verify: bool = True) -> LoadedIndex:
        collection, state = self._require()
        manifest = Manifest.from_dict(state["manifest"])
        manifest.build_id = _version_id(state)
        check_manifest(manifest, embedder_id, self.location,
                       f"qa index --store milvus --milvus-uri {self.uri} --index {self.index_dir}")
        try:
            docs = self._docs(collection)
            records = self._chunk_records(collection, docs)
            lex_text = self._blob(collection, "lexicon")
            terms_text = self._blob(collection, "terms")
            if lex_text is None or terms_text is None:
                raise IndexCorrupt(f"Milvus collection {collection} lacks its lexicon; rebuild with `qa index`")
            lex = json.loads(lex_text)
            extras = self._extras(collection)
        except IndexCorrupt:
            raise
        except StoreUnavailable:
            raise
        except Exception as e:
            raise IndexCorrupt(f"cannot load Milvus collection {collection} ({type(e).__name__}: {e}); "
                               "rebuild with `qa index`") from e
        chunk_fields = set(Chunk.__dataclass_fields__)
        chunks = []
        for row, rec in enumerate(records):
            fields = {k: v for k, v in rec.items() if k in chunk_fields}
            fields["chunk_id"] = row
            chunks.append(Chunk(**fields))
        if verify and len(chunks) != manifest.counts.get("chunks", len(chunks)):
            log.warning("milvus: %s serves %d chunks, its manifest counts %d (an interrupted add/remove?)",
                        collection, len(chunks), manifest.counts.get("chunks"))
        documents = {doc_id: Document(**meta) for doc_id, (meta, _, _) in
                     sorted(docs.items(), key=lambda kv: kv[1][2])}
        search = MilvusSearch(self.conn, collection, lex, [rec["seq"] for rec in records],
                              [int(rec.get("windows", 0)) for rec in records], docs,
                              _index_type(manifest.vector_index, len(chunks), self.conn.remote)[2])
        index = LoadedIndex(path=Path(self.index_dir), manifest=manifest, documents=documents, chunks=chunks,
                            vectors=None, raw_vectors=None, bm25=None,
                            segmenter=Segmenter(json.loads(terms_text)), extras=extras, search=search,
                            store="milvus")
        index.text_reader = search.document_text
        return index

    def previous(self, embedder_id: str | None, reading: str = "") -> Previous:
        collection = self._serving()
        state = self._state(collection) if collection else None
        if state is None:
            # an index folder moving from the files store to Milvus: its files build's reading, tokens
            # and vectors serve the same (keyed by file hash and text hash), nothing is re-embedded
            from .files import FileStore, current_build

            if current_build(self.index_dir) is not None:
                return FileStore(self.index_dir).previous(embedder_id, reading)
            return Previous()
        terms_text = self._blob(collection, "terms")
        terms = set(json.loads(terms_text)) if terms_text else set()
        manifest = state["manifest"]
        if not reading and embedder_id is None:  # an add: only the dictionary the stored chunks were cut with
            return Previous(terms=terms)
        try:
            docs = self._docs(collection)
            records = self._chunk_records(collection, docs)
            tokens = {_text_key_of(rec): rec["tokens"] for rec in records if "tokens" in rec}
            found_reading = {}
            if reading and manifest.get("reading") == reading:
                by_doc: dict[str, list[dict]] = {}
                for rec in records:
                    by_doc.setdefault(rec["doc_id"], []).append(
                        {k: v for k, v in rec.items() if k in Chunk.__dataclass_fields__})
                texts = {doc_id: self._document_text(collection, doc_id, gen) for doc_id, (_, gen, _) in docs.items()}
                found_reading = group_reading(manifest.get("corpus", []), [d for d, _, _ in
                                              sorted(docs.values(), key=lambda v: v[2])], by_doc,
                                              {k: v for k, v in texts.items() if v is not None})
            vectors = self._previous_vectors(collection, docs) if embedder_id and \
                manifest.get("embedder") == embedder_id else {}
        except Exception as e:  # reuse is an optimisation: a damaged build only costs recomputing
            log.warning("milvus: not reusing the serving build: %s", e)
            return Previous(terms=terms)
        return Previous(reading=found_reading, terms=terms, tokens=tokens, vectors=vectors)

    def _previous_vectors(self, collection: str, docs: dict) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for r in self._query_all(collection, 'row in ["chunk", "window"]', ["doc_id", "gen", "dense", "data"]):
            doc = docs.get(r["doc_id"])
            if doc is None or doc[1] != r["gen"]:
                continue
            key = json.loads(r["data"]).get("key")
            if key:
                found[key] = np.asarray(r["dense"], dtype=np.float32)
        return found

    def _document_text(self, collection: str, doc_id: str, gen: int) -> dict | None:
        rows = self.conn.call(lambda c: c.query(
            collection, filter=f'row == "text" and doc_id == {literal(doc_id)} and gen == {int(gen)}',
            output_fields=["pk", "data"]))
        if not rows:
            return None
        return json.loads("".join(r["data"] for r in sorted(rows, key=lambda r: r["pk"])))

    # -- changing the serving build in place ---------------------------------------------------------

    def upsert(self, data: BuildData, replaced_sources: set[str]) -> Manifest:
        collection, state = self._require()
        if data.vectors is None or not data.dim:
            raise ValueError("the Milvus store keeps dense vectors: add with an embedder")
        manifest = Manifest.from_dict(state["manifest"])
        if data.embedder_id != manifest.embedder or data.dim != manifest.dim:
            raise ValueError(f"the index was built with {manifest.embedder} ({manifest.dim} dimensions); "
                             f"cannot add vectors of {data.embedder_id}: rebuild with `qa index`")
        gen = state["revision"] + 1
        first_seq = state["next_seq"]
        docs = self._docs(collection)
        new_ids = {d.doc_id for d in data.documents}
        replaced = {doc_id for doc_id, (meta, _, _) in docs.items() if meta.get("source") in replaced_sources}
        touched = replaced | (new_ids & set(docs))
        lex = json.loads(self._blob(collection, "lexicon") or "null") or _lexicon([])
        removed_terms = self._term_ids(collection, docs, touched)
        lex = _extend_lexicon(lex, data.token_lists, removed_terms)
        rows = _Rows(manifest.dim)
        built = list(self._build_rows(rows, data, lex, gen, first_seq))
        # 1. the new rows (their documents' `doc` rows still name the old generation, or none)
        self._insert(collection, (r for r in built if r["row"] != "doc"))
        # 2. the metadata: documents, then the lexicon, then the manifest (the new version)
        self.conn.call(lambda c: c.upsert(collection, [r for r in built if r["row"] == "doc"]))
        gone = sorted(touched - new_ids)
        if gone:
            self.conn.call(lambda c: c.delete(collection, filter='row == "doc" and doc_id in ['
                                              + ", ".join(literal(x) for x in gone) + "]"))
        self._upsert_blob(collection, rows, "lexicon", json.dumps(lex, ensure_ascii=False))
        corpus = [e for e in manifest.corpus if e["source"] not in replaced_sources] + list(data.corpus)
        n_docs = len(set(docs) - touched) + len(new_ids)
        n_chunks = manifest.counts.get("chunks", 0) - len(removed_terms) + len(data.chunks)
        manifest = self._bump(collection, rows, state, manifest, gen, corpus=corpus,
                              counts={"documents": n_docs, "chunks": n_chunks},
                              next_seq=first_seq + len(data.chunks))
        # 3. the old rows of the replaced documents
        self._delete_stale(collection, touched, gen)
        return manifest

    def delete(self, doc_id: str, drop_source: bool) -> Manifest:
        collection, state = self._require()
        manifest = Manifest.from_dict(state["manifest"])
        docs = self._docs(collection)
        if doc_id not in docs:
            raise KeyError(doc_id)
        gen = state["revision"] + 1
        rows = _Rows(manifest.dim)
        lex = json.loads(self._blob(collection, "lexicon") or "null") or _lexicon([])
        removed_terms = self._term_ids(collection, docs, {doc_id})
        lex = _extend_lexicon(lex, [], removed_terms)
        source = docs[doc_id][0].get("source")
        n_chunks = manifest.counts.get("chunks", 0) - len(removed_terms)
        self.conn.call(lambda c: c.delete(collection, filter=f'row == "doc" and doc_id == {literal(doc_id)}'))
        self._upsert_blob(collection, rows, "lexicon", json.dumps(lex, ensure_ascii=False))
        excluded = list(manifest.excluded_docs)
        corpus = list(manifest.corpus)
        if drop_source:
            corpus = [e for e in corpus if e["source"] != source]
        elif doc_id not in excluded:
            excluded.append(doc_id)
        manifest = self._bump(collection, rows, state, manifest, gen, corpus=corpus, excluded=excluded,
                              counts={"documents": len(docs) - 1, "chunks": n_chunks})
        self._delete_stale(collection, {doc_id}, gen + 1)
        return manifest

    def _term_ids(self, collection: str, docs: dict, doc_ids: set[str]) -> list[list[int]]:
        """The term ids of the serving chunks of `doc_ids` (their document frequencies go)."""
        if not doc_ids:
            return []
        expr = 'row == "chunk" and doc_id in [' + ", ".join(literal(d) for d in sorted(doc_ids)) + "]"
        out = []
        for r in self._query_all(collection, expr, ["doc_id", "gen", "sparse"]):
            if docs.get(r["doc_id"], (None, None))[1] == r["gen"]:
                out.append([int(i) for i in _sparse_keys(r["sparse"]) if int(i) != SENTINEL])
        return out

    def _upsert_blob(self, collection: str, rows: _Rows, name: str, text: str) -> None:
        new = rows.blob(name, text)
        self.conn.call(lambda c: c.upsert(collection, new))
        # a blob that shrank leaves parts beyond its new end
        keep = [r["pk"] for r in new]
        self.conn.call(lambda c: c.delete(collection, filter=f'row == "meta" and name == {literal(name)} and pk not in ['
                                          + ", ".join(literal(k) for k in keep) + "]"))

    def _bump(self, collection: str, rows: _Rows, state: dict, manifest: Manifest, gen: int, *, corpus: list,
              counts: dict, excluded: list | None = None, next_seq: int | None = None) -> Manifest:
        manifest.corpus = corpus
        manifest.counts = {**manifest.counts, **counts}
        if excluded is not None:
            manifest.excluded_docs = excluded
        manifest.built_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        new_state = {**state, "manifest": asdict(manifest), "revision": gen,
                     "next_seq": next_seq if next_seq is not None else state["next_seq"]}
        new_state["manifest"]["build_id"] = state["manifest"]["build_id"]
        self._upsert_blob(collection, rows, "manifest", json.dumps(new_state, ensure_ascii=False))
        self.conn.call(lambda c: c.flush(collection))
        manifest.build_id = _version_id(new_state)
        return manifest

    def _delete_stale(self, collection: str, doc_ids: set[str], gen: int) -> None:
        """Rows of `doc_ids` written before generation `gen` (the versions just replaced)."""
        if not doc_ids:
            return
        expr = ('row in ["chunk", "window", "text"] and gen < ' + str(int(gen)) + " and doc_id in ["
                + ", ".join(literal(d) for d in sorted(doc_ids)) + "]")
        self.conn.call(lambda c: c.delete(collection, filter=expr))
        self.conn.call(lambda c: c.flush(collection))


def _date(date: str | None) -> int:
    try:
        return date_number(date)
    except ValueError:  # a date the readers could not normalise: unknown to date filters
        return 0


def _without_secret(uri: str) -> str:
    return re.sub(r"//[^/@]*@", "//", uri)


def _version_id(state: dict) -> str:
    build = state["manifest"]["build_id"]
    return build if not state.get("revision") else f"{build}.r{state['revision']}"


def _build_time(build_id: str) -> float | None:
    try:
        return time.mktime(time.strptime(build_id[:15], "%Y%m%dT%H%M%S"))
    except (ValueError, OverflowError):
        return None


def _text_key_of(rec: dict) -> str:
    from ..indexer import lexical_text
    from .base import text_key

    fields = {k: v for k, v in rec.items() if k in Chunk.__dataclass_fields__}
    return text_key(lexical_text(Chunk(**fields)))


def _not_loaded(e: BaseException) -> bool:
    text = str(e).lower()
    return getattr(e, "code", None) == 101 or "not loaded" in text or "released" in text


def _blend(whole: float, best: float | None, mix: float) -> float:
    """A chunk's cosine moved toward its best window's by `mix` where that is higher (as
    HybridRetriever._blend does for the files store)."""
    return whole + mix * (best - whole) if best is not None and best > whole and mix > 0 else whole


_POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="milvus-search")


def _sparse_keys(sparse: Any) -> list[int]:
    if isinstance(sparse, dict):
        return list(sparse)
    try:  # scipy-like or pymilvus row objects
        return [int(i) for i in sparse.indices]
    except AttributeError:
        return [int(i) for i, _ in sparse]


# -- searching ---------------------------------------------------------------------------------------

class MilvusSearch:
    """The candidate side of retrieval on a Milvus build: BM25 and dense top-N from Milvus, with the
    exact scores of every candidate, so that the service's own fusion, re-ranking and answers run
    on the same numbers as with the files store (`qa.retrieval.HybridRetriever`)."""

    dense = True

    def __init__(self, conn: Connection, collection: str, lexicon: dict, seqs: list[int], windows: list[int],
                 docs: dict, search_params: dict) -> None:
        self.conn = conn
        self.collection = collection
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(lexicon["terms"])}
        n = max(1, int(lexicon["n"]))
        df = lexicon["df"]
        self.idf: dict[str, float] = {t: idf(df[i], n) for t, i in self.vocab.items() if df[i] > 0}
        self.row_of: dict[int, int] = {seq: row for row, seq in enumerate(seqs)}
        self.seqs = np.asarray(seqs, dtype=np.int64)
        self.windows = np.asarray(windows, dtype=np.int64)
        self.gens = {doc_id: gen for doc_id, (_, gen, _) in docs.items()}
        self.params = search_params

    def _search(self, field: str, vector: Any, limit: int, expr: str, metric: str) -> list[tuple[int, float]]:
        """(row, score) of the best `limit` rows of `expr`, rows this build does not serve left out."""
        if limit <= 0:
            return []
        params = {"metric_type": metric, "params": self.params if field == "dense" else {}}

        def search(c):
            return c.search(self.collection, [vector], anns_field=field, limit=min(limit, 16384), filter=expr,
                            output_fields=["seq", "row"], search_params=params)
        res = self._call_loaded(search)
        return [(h["entity"]["seq"], float(h["distance"]), h["entity"]["row"]) for h in res[0]]

    def _call_loaded(self, fn: Callable[[Any], Any]) -> Any:
        try:
            return self.conn.call(fn)
        except Exception as e:
            if not _not_loaded(e):
                raise
            # a restarted Milvus (or milvus-lite) starts with its collections released
            self.conn.call(lambda c: c.load_collection(self.collection))
            return self.conn.call(fn)

    def query_vector(self, tokens: list[str]) -> dict[int, float]:
        return query_weights(tokens, self.vocab, self.idf)

    def candidates(self, tokens: list[str], q: np.ndarray | None, depth: int, pinned: list[int],
                   expr: str | None, window_mix: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(candidate rows, their BM25 scores, their cosines with the best window blended in).

        The candidates are, as with the files store, the union of the best `depth` by BM25, the best
        `depth` by (blended) cosine and the pinned rows. The dense side's best are taken among the
        best `depth` chunks by their own cosine and the chunks of the best `depth` windows: a chunk
        whose blended cosine reaches the files store's top `depth` has its own cosine or a window's
        at least that high (the blend lies between them). The three searches run at once."""
        scope = f" and ({expr})" if expr else ""
        weights = self.query_vector(tokens)
        jobs = {}
        if weights:
            jobs["lexical"] = _POOL.submit(self._search, "sparse", weights, depth, 'row == "chunk"' + scope, "IP")
        qv = [float(x) for x in q] if q is not None else None
        if qv is not None:
            jobs["chunks"] = _POOL.submit(self._search, "dense", qv, depth, 'row == "chunk"' + scope, "COSINE")
            jobs["windows"] = _POOL.submit(self._search, "dense", qv, depth, 'row == "window"' + scope, "COSINE")
        lexical = {self.row_of[seq]: score for seq, score, _ in (jobs["lexical"].result() if "lexical" in jobs else [])
                   if seq in self.row_of and score > 0}
        whole: dict[int, float] = {}
        best: dict[int, float] = {}
        floor = -np.inf  # every window with a higher cosine is among the window hits
        if qv is not None:
            for seq, score, _ in jobs["chunks"].result():
                if seq in self.row_of:
                    whole[self.row_of[seq]] = score
            hits = jobs["windows"].result()
            if len(hits) >= depth:
                floor = min(score for _, score, _ in hits)
            for seq, score, _ in hits:
                row = self.row_of.get(seq)
                if row is not None and score > best.get(row, -np.inf):
                    best[row] = score
        pool = set(whole) | set(best)
        cand_pre = pool | set(lexical) | set(pinned)
        if qv is not None:
            # rows whose blended cosine is not known yet: no own cosine, or a window of theirs might lie
            # between their own cosine and the window floor without being among the hits
            unknown = sorted(r for r in cand_pre if r not in whole or
                             (r not in best and self.windows[r] > 0 and whole[r] < floor))
            if unknown:
                exact_whole, exact_best = self._exact_cosines(qv, unknown)
                whole.update(exact_whole)
                best.update(exact_best)
        blended = {r: _blend(whole.get(r, 0.0), best.get(r), window_mix) for r in cand_pre} if qv is not None else {}
        dense_top = sorted(pool, key=lambda r: (-blended[r], r))[:depth]
        cand = np.union1d(np.union1d(np.asarray(sorted(lexical), dtype=np.int64), np.asarray(dense_top, dtype=np.int64)),
                          np.asarray(pinned, dtype=np.int64)).astype(np.int64)
        missing = [int(r) for r in cand if int(r) not in lexical]
        if missing and weights:
            lexical.update(self._exact_bm25(weights, missing))
        lex_c = np.array([lexical.get(int(r), 0.0) for r in cand], dtype=np.float32)
        dense_c = np.array([blended.get(int(r), 0.0) for r in cand], dtype=np.float32)
        return cand, lex_c, dense_c

    def _seq_filter(self, rows: list[int]) -> str:
        return "seq in [" + ", ".join(str(int(self.seqs[r])) for r in rows) + "]"

    def _exact_cosines(self, qv: list[float], rows: list[int]) -> tuple[dict[int, float], dict[int, float]]:
        """(own cosine, best window's cosine) of `rows`, from one search restricted to them."""
        limit = int(sum(1 + self.windows[r] for r in rows))
        whole: dict[int, float] = {}
        best: dict[int, float] = {}
        for seq, score, kind in self._search("dense", qv, limit, 'row in ["chunk", "window"] and '
                                             + self._seq_filter(rows), "COSINE"):
            row = self.row_of.get(seq)
            if row is None:
                continue
            if kind == "chunk":
                whole[row] = score
            elif score > best.get(row, -np.inf):
                best[row] = score
        return whole, best

    def _exact_bm25(self, weights: dict[int, float], rows: list[int]) -> dict[int, float]:
        hits = self._search("sparse", weights, len(rows), 'row == "chunk" and ' + self._seq_filter(rows), "IP")
        return {self.row_of[seq]: score for seq, score, _ in hits if seq in self.row_of}

    def document_text(self, doc_id: str) -> dict | None:
        gen = self.gens.get(doc_id)
        if gen is None:
            return None
        rows = self._call_loaded(lambda c: c.query(
            self.collection, filter=f'row == "text" and doc_id == {literal(doc_id)} and gen == {int(gen)}',
            output_fields=["pk", "data"]))
        if not rows:
            return None
        return json.loads("".join(r["data"] for r in sorted(rows, key=lambda r: r["pk"])))
