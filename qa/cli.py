"""The `qa` command: build the index, search, ask and serve.

    qa index [--corpus PATH ...] [--index DIR]     build (or rebuild) the index
        [--store files|milvus] [--milvus-uri URI] [--ray local|ADDRESS]
    qa index add PATH... [--index DIR]             add or replace files; only they are read and embedded
    qa index remove DOC_ID [--index DIR]           remove one document
    qa search "污水处理站建设谁牵头？" [-k 5] [--json] [--doc ID] [--issuer S] [--date-from D] [--date-to D]
    qa ask "防止返贫动态监测由哪个部门牵头？" [--json] [the same filter options]
    qa serve [--index DIR] [--host H] [--port P]   builds the index from the corpus first if none exists
    qa tasks --unit 水务局 [--role lead] [--csv]     the tasks a unit leads or takes part in
    qa units                                       the units the documents assign work to
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .contract import DEFAULT_TOP_K, MAX_TOP_K
from .settings import Settings, get_settings

app = typer.Typer(help="Retrieval question answering over Chinese government documents.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
index_app = typer.Typer(help="Build the index, or change it (see subcommands).", invoke_without_command=True)
app.add_typer(index_app, name="index")

IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="index folder [env QA_INDEX_DIR, default index/]")]
EmbedderOpt = Annotated[Optional[str], typer.Option("--embedder", help="'e5-onnx' (default), 'e5' or 'st:<name-or-path>' [env QA_EMBEDDER]")]
StoreOpt = Annotated[Optional[str], typer.Option("--store", help="files (FAISS + bm25s in the index folder) or milvus [env QA_STORE; default: what the index folder was built as, else files]")]
MilvusUriOpt = Annotated[Optional[str], typer.Option("--milvus-uri", help="Milvus: a local path (milvus-lite) or http(s)://host:19530 [env QA_MILVUS_URI; default <index>/milvus.db]")]


def _settings(index: Path | None = None, embedder: str | None = None, store: str | None = None,
              milvus_uri: str | None = None) -> Settings:
    return get_settings().model_copy(update=_overrides(index, embedder, store, milvus_uri))


def _overrides(index: Path | None, embedder: str | None, store: str | None, milvus_uri: str | None) -> dict:
    """The settings the command line gives (they win over the environment)."""
    overrides: dict = {}
    if index is not None:
        overrides["index_dir"] = index
    if embedder is not None:
        overrides["embedder"] = embedder
    if store is not None:
        from .store import STORE_KINDS

        if store not in STORE_KINDS:
            _fail(f"--store must be one of {', '.join(STORE_KINDS)}", 2)
        overrides["store"] = store
    if milvus_uri is not None:
        overrides["milvus_uri"] = milvus_uri
        overrides.setdefault("store", "milvus")  # a Milvus URI means the Milvus store
    return overrides


def _setup_logging(verbose: bool = False) -> None:
    from .logs import setup_logging

    setup_logging(get_settings().log_format, verbose)


def _service(settings: Settings):
    from .service import QAService

    return QAService(settings)


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@index_app.callback()
def index(
    ctx: typer.Context,
    corpus: Annotated[Optional[list[Path]], typer.Option("--corpus", help="file or folder to index (repeatable) [default QA_CORPUS_DIR, corpus/]")] = None,
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    vector_index: Annotated[Optional[str], typer.Option("--vector-index", help="auto (exact ≤ 200k chunks, IVF above; Milvus: FLAT on milvus-lite, HNSW above 200k on a server), flat, ivf or hnsw [env QA_VECTOR_INDEX]")] = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
    ray: Annotated[Optional[str], typer.Option("--ray", metavar="local|ADDRESS", help="embed passages on Ray Data: 'local' starts Ray on this machine, else a cluster address for ray.init (needs the 'ray' extra) [env QA_RAY_ADDRESS]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Build the index from the corpus (a new build replaces the serving one only when complete)."""
    settings = _settings(index, embedder, store, milvus_uri)
    if ray is not None:
        settings = settings.model_copy(update={"ray_address": ray})
    if ctx.invoked_subcommand is not None:
        ctx.obj = settings
        return
    if vector_index is not None:
        from .store import VECTOR_INDEX_KINDS

        if vector_index not in VECTOR_INDEX_KINDS:
            _fail(f"--vector-index must be one of {', '.join(VECTOR_INDEX_KINDS)}", 2)
        settings = settings.model_copy(update={"vector_index": vector_index})
    _change_index(settings, lambda service: service.build(corpus or [settings.corpus_dir], progress=not quiet,
                                                          ray_address=settings.ray_address))


@index_app.command("add")
def index_add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="files or folders to add (or replace, when already indexed)")],
    index: IndexOpt = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Add documents to the index; only they are read and embedded."""
    settings = _with_index(ctx.obj, index, store, milvus_uri)
    _change_index(settings, lambda service: service.add_documents(paths, progress=not quiet,
                                                                  ray_address=settings.ray_address))


@index_app.command("remove")
def index_remove(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="doc_id of the document to remove (see `qa documents`)")],
    index: IndexOpt = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Remove one document from the index."""

    def remove(service):
        try:
            return service.remove_document(doc_id, progress=not quiet)
        except KeyError:
            _fail(f"no document {doc_id!r} in the index; `qa documents` lists them")

    _change_index(_with_index(ctx.obj, index, store, milvus_uri), remove)


def _change_index(settings: Settings, change) -> None:
    """Run one build, add or remove on the service and print its summary; a problem the user can fix
    (missing files, nothing readable, an unusable embedder) is one red line, not a traceback."""
    _setup_logging()
    from .embedders import EmbedderError
    from .store import IndexError_

    from .store import DISK_FULL_ERRNOS

    try:
        report = change(_service(settings))
    except (FileNotFoundError, ValueError, EmbedderError, IndexError_) as e:
        _fail(str(e))
    except OSError as e:
        if e.errno not in DISK_FULL_ERRNOS:
            raise
        _fail(str(e))  # DiskFull says what happened and that the serving index is unchanged
    typer.echo(report.summary())


def _with_index(settings: Settings, index: Path | None, store: str | None = None,
                milvus_uri: str | None = None) -> Settings:
    """`qa index add --index DIR` and `qa index --index DIR add` mean the same (and so for --store,
    --milvus-uri)."""
    return settings.model_copy(update=_overrides(index, None, store, milvus_uri))


DocOpt = Annotated[Optional[list[str]], typer.Option("--doc", help="only this doc_id (repeatable: any of them)")]
IssuerOpt = Annotated[Optional[str], typer.Option("--issuer", help="only documents whose issuer contains this")]
DateFromOpt = Annotated[Optional[str], typer.Option("--date-from", metavar="YYYY-MM-DD", help="only documents dated on or after this day")]
DateToOpt = Annotated[Optional[str], typer.Option("--date-to", metavar="YYYY-MM-DD", help="only documents dated on or before this day")]
SourceOpt = Annotated[Optional[str], typer.Option("--source-prefix", metavar="PREFIX", help="only documents from corpus files under this path, e.g. uploads/")]
TopKOpt = Annotated[int, typer.Option("-k", "--top-k", help="number of passages", min=1, max=MAX_TOP_K)]


def _filters(docs: list[str] | None, issuer: str | None, date_from: str | None, date_to: str | None,
             source_prefix: str | None) -> dict | None:
    """The options as the `filters` object of /v1/search and /v1/ask (checked by the service)."""
    given = {"doc_ids": docs or None, "issuer": issuer, "date_from": date_from, "date_to": date_to,
             "source_prefix": source_prefix}
    given = {k: v for k, v in given.items() if v is not None}
    return given or None


def _print_hits(hits, service) -> None:
    for rank, h in enumerate(hits, 1):
        c = service.citation(h.chunk)
        head = " ".join(x for x in (c["doc_title"], f"（{c['doc_number']}）" if c["doc_number"] else "") if x)
        typer.secho(f"[{rank}] {h.score:.3f}  {head}", bold=True)
        if c["section"]:
            typer.echo(f"    {c['section']}  ({c['source']}:{c['char_start']}-{c['char_end']})")
        typer.echo("    " + h.chunk.text.replace("\n", "\n    "))


def _load(settings: Settings):
    from .store import IndexError_

    service = _service(settings)
    try:
        service.reload()
    except IndexError_ as e:
        _fail(str(e))
    return service


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="question or keywords, in Chinese")],
    k: TopKOpt = DEFAULT_TOP_K,
    doc: DocOpt = None,
    issuer: IssuerOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    source_prefix: SourceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the /v1/search JSON")] = False,
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Print the most relevant passages with their citations (within the documents the options allow)."""
    from .contract import search_response
    from .service import QueryError

    service = _load(_settings(index, embedder, store, milvus_uri))
    filters = _filters(doc, issuer, date_from, date_to, source_prefix)
    one_doc = doc[0] if doc and len(doc) == 1 and filters == {"doc_ids": doc} else None
    try:
        # one --doc alone is the API's "doc" (that document's own ranking); anything else is a filter
        result = service.search(query, k, one_doc, None if one_doc else filters)
    except QueryError as e:
        _fail(e.message, 2)
    if as_json:
        typer.echo(json.dumps(search_response(service, result).model_dump(), ensure_ascii=False, indent=2))
    else:
        _print_hits(result.hits, service)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="a question, in Chinese")],
    k: Annotated[int, typer.Option("-k", "--top-k", help="number of citations", min=1, max=MAX_TOP_K)] = DEFAULT_TOP_K,
    doc: DocOpt = None,
    issuer: IssuerOpt = None,
    date_from: DateFromOpt = None,
    date_to: DateToOpt = None,
    source_prefix: SourceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the /v1/ask JSON")] = False,
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Answer a question from the documents, with citations (or say the corpus does not answer it)."""
    from .contract import ask_response
    from .service import QueryError

    service = _load(_settings(index, embedder, store, milvus_uri))
    try:
        result = service.ask(question, k, _filters(doc, issuer, date_from, date_to, source_prefix))
    except QueryError as e:
        _fail(e.message, 2)
    a = result.answer
    if as_json:
        typer.echo(json.dumps(ask_response(service, result).model_dump(), ensure_ascii=False, indent=2))
        return
    if a.answer is None:
        typer.secho("The documents do not answer this question. Closest passages:", fg=typer.colors.YELLOW)
    else:
        typer.secho(f"{a.answer}", bold=True, fg=typer.colors.GREEN)
        typer.echo(f"({a.answer_type}, confidence {a.confidence:.2f})")
        for t in result.tasks or []:
            typer.echo(f"  [{'牵头' if t['role'] == 'lead' else '参与'}] {t['title']} — {t['doc_number'] or t['doc_title']}")
    _print_hits(result.hits, service)


@app.command()
def serve(
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    host: Annotated[Optional[str], typer.Option(help="address to listen on [default 127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="port [default 8000]")] = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="corpus folder used when the index must be built")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=32, help="server processes (each loads the index; one per core is a good start)")] = 1,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Serve the HTTP API (OpenAPI page at /docs); builds the index from the corpus first if none exists."""
    import uvicorn

    from api.app import create_app

    _setup_logging()
    settings = _settings(index, embedder, store, milvus_uri)
    if corpus is not None:
        settings = settings.model_copy(update={"corpus_dir": corpus})
    service = _service(settings)
    from .embedders import EmbedderError
    from .store import IndexError_

    try:
        service.ensure_index()
    except (IndexError_, EmbedderError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    host, port = host or settings.host, port or settings.port
    settings = settings.model_copy(update={"host": host})  # the app's default rate limit depends on it
    if workers > 1:
        # worker processes build the app from the environment (api.app:app), so pass the settings on
        os.environ.update({"QA_INDEX_DIR": str(settings.index_dir), "QA_CORPUS_DIR": str(settings.corpus_dir),
                           "QA_EMBEDDER": settings.embedder, "QA_OMP_THREADS": str(settings.omp_threads),
                           "QA_HOST": host, "QA_LOG_FORMAT": settings.log_format})
        if settings.store:
            os.environ["QA_STORE"] = settings.store
        if settings.milvus_uri:
            os.environ["QA_MILVUS_URI"] = settings.milvus_uri
        # log_config=None: uvicorn's own lines go through our handler (text or JSON), not its own
        uvicorn.run("api.app:app", host=host, port=port, workers=workers, log_level="info", access_log=False,
                    log_config=None)
        return
    application = create_app(service, settings, build_if_missing=False)
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=False, log_config=None)


@app.command()
def mcp(
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    http: Annotated[Optional[int], typer.Option("--http", metavar="PORT", min=1, max=65535, help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")] = None,
    host: Annotated[Optional[str], typer.Option(help="address for --http [default 127.0.0.1]")] = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="corpus folder used when the index must be built")] = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Serve the tools search, ask and document to an MCP-capable assistant (stdio by default).

    An assistant launches `qa mcp --index DIR` and talks to it over stdin/stdout; logs go to stderr.
    Builds the index from the corpus first if none exists.
    """
    try:
        from . import mcp_server
        import mcp as _sdk  # noqa: F401  (the official SDK: an extra, see README)
    except ImportError:
        _fail("the MCP server needs the `mcp` package: pip install 'gazette-qa[mcp]'")
    _setup_logging()
    settings = _settings(index, embedder, store, milvus_uri)
    if corpus is not None:
        settings = settings.model_copy(update={"corpus_dir": corpus})
    service = _service(settings)
    from .embedders import EmbedderError
    from .store import IndexError_

    try:
        # no progress bars: the assistant shows stderr as a log, not as a terminal
        service.ensure_index(progress=False)
    except (IndexError_, EmbedderError, FileNotFoundError, ValueError) as e:
        _fail(str(e))
    mcp_server.run(service, http_port=http, host=host or settings.host)


@app.command()
def tasks(
    unit: Annotated[Optional[str], typer.Option("--unit", "-u", help="any spelling of a unit: 水务局, 市住建局 …")] = None,
    role: Annotated[str, typer.Option("--role", "-r", help="lead (牵头), support (责任/配合, not leading) or any")] = "any",
    doc: Annotated[Optional[str], typer.Option("--doc", help="only tasks of this doc_id")] = None,
    q: Annotated[Optional[str], typer.Option("--q", help="words the task must contain (all of them)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="at most this many tasks")] = 500,
    offset: Annotated[int, typer.Option("--offset", min=0, help="skip this many tasks first")] = 0,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV (one row per task) for a spreadsheet")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the GET /v1/tasks JSON")] = False,
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """The tasks a unit leads or takes part in (or every task), from the task registry of the index."""
    from .service import QueryError
    from .tasks import UnknownUnit, tasks_csv

    service = _load(_settings(index, embedder, store, milvus_uri))
    try:
        result = service.tasks(unit=unit, role=role, doc=doc, q=q, limit=limit, offset=offset)
    except QueryError as e:
        _fail(e.message, 2)
    except UnknownUnit as e:
        close = "、".join(e.suggestions)
        _fail(f"no unit named {e.unit!r} in the documents" + (f"; closest spellings: {close}" if close else ""), 2)
    views = [service.task_view(h.record, h.role) for h in result.hits]
    if as_csv:
        typer.echo(tasks_csv({**v, "role": v["role"] or ""} for v in views).lstrip("\ufeff"), nl=False)
        return
    if as_json:
        unit_out = {"name": result.unit["name"], "aliases": result.unit["aliases"]} if result.unit else None
        typer.echo(json.dumps({"unit": unit_out, "role": role, "total": result.total, "limit": limit,
                               "offset": offset, "tasks": views}, ensure_ascii=False, indent=2))
        return
    head = f"{result.unit['name']}: " if result.unit else ""
    typer.secho(f"{head}{result.total} tasks ({role})", bold=True)
    for v in views:
        mark = {"lead": "牵头", "support": "参与"}.get(v["role"] or "", "")
        typer.echo(f"{'[' + mark + '] ' if mark else ''}{v['title']}  —  {v['doc_number'] or v['doc_title']}"
                   f"{'  ' + v['section'] if v['section'] else ''}")
        typer.echo(f"    牵头: {'、'.join(v['lead_units']) or '-'}   责任/配合: {'、'.join(v['supporting_units']) or '-'}"
                   f"{'   完成时限: ' + v['deadline'] if v['deadline'] else ''}")


@app.command()
def units(
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    store: StoreOpt = None,
    milvus_uri: MilvusUriOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the GET /v1/units JSON")] = False,
) -> None:
    """Every unit the documents assign work to: its spellings, tasks led and tasks supported."""
    service = _load(_settings(index, embedder, store, milvus_uri))
    found = service.units()
    if as_json:
        typer.echo(json.dumps({"units": found}, ensure_ascii=False, indent=2))
        return
    for u in found:
        typer.echo(f"{u['name']}\t牵头 {u['lead']}\t参与 {u['support']}\t{'、'.join(u['aliases'])}")


@app.command()
def documents(index: IndexOpt = None, embedder: EmbedderOpt = None, store: StoreOpt = None,
              milvus_uri: MilvusUriOpt = None) -> None:
    """List the indexed documents with their metadata."""
    service = _load(_settings(index, embedder, store, milvus_uri))
    for d in service.index.documents.values():
        typer.echo(f"{d.doc_id}\t{d.doc_number or '-'}\t{d.date or '-'}\t{d.title}")


def main() -> None:  # pragma: no cover
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
