"""Write endpoints: upload a document into the corpus and index it, or remove one.

An upload is bounded: the file must fit the document budget (over it: 413 naming the limit), and
reading and indexing it must finish within QA_UPLOAD_TIMEOUT_S (else 504, whatever stage it is in:
waiting for another build, reading, embedding); a client that disconnects cancels it at the same
points. Either way nothing of it stays in the index or the corpus folder: a build publishes whole
or not at all (qa/cancel.py).

Both need the API key (`QA_API_KEY`, header `X-API-Key`, compared in constant time); without a
configured key they are switched off (403), never open. Uploaded file names are not trusted: only a
sanitised base name is kept, and the file is written inside `<corpus>/uploads/` and nowhere else.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import tempfile
from pathlib import Path as FsPath
from typing import Annotated
from urllib.parse import unquote

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from qa.cancel import BuildCancelled, CancelToken
from qa.readers import SUPPORTED_SUFFIXES, DocumentTooLarge, UnreadableDocument, read_file
from qa.store import DISK_FULL_ERRNOS

from .deps import ServiceDep
from .errors import error_response
from .schemas import BuildSummary, ErrorBody

log = logging.getLogger("api")
router = APIRouter(tags=["documents"])

_SAFE_NAME = re.compile(r"[^\w\u4e00-\u9fff（）()\-. ]+")


def require_api_key(service: ServiceDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    expected = service.settings.api_key
    if not expected:
        raise HTTPException(403, "document uploads and removals are disabled: set QA_API_KEY to enable them")
    if x_api_key is None:
        raise HTTPException(401, "missing X-API-Key header", headers={"WWW-Authenticate": "X-API-Key"})
    if not hmac.compare_digest(x_api_key.encode("utf-8"), expected.encode("utf-8")):
        raise HTTPException(401, "wrong API key", headers={"WWW-Authenticate": "X-API-Key"})


ApiKey = Annotated[None, Depends(require_api_key)]


_DRIVE = re.compile(r"^[A-Za-z]:")
_RAW_FILENAME = re.compile(r"""(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""", re.IGNORECASE)


def _is_path_like(name: str) -> bool:
    return (any(sep in name for sep in ("/", "\\")) or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
            or name.startswith(".") or ".." in name or bool(_DRIVE.match(name)))


def safe_upload_name(filename: str | None, raw: str | None = None) -> str:
    """The upload's name, if it is a plain file name: path separators, "..", drive letters, hidden
    and control characters are refused (not silently rewritten), so nothing can name a place outside
    uploads/ — also once percent-decoded, and in the raw Content-Disposition (`raw`), from which the
    multipart parser strips Windows paths such as C:\\x\\a.md before the app sees the name."""
    name = filename or ""
    candidates = [name, raw or ""]
    for _ in range(3):  # and once, twice, three times percent-decoded (%252e%252e%252f → %2e%2e%2f → ../)
        candidates += [unquote(c) for c in candidates[-2:]]
    for candidate in candidates:
        if _is_path_like(candidate):
            raise HTTPException(400, f"bad file name {candidate!r}: give a plain file name, no folders")
    name = _SAFE_NAME.sub("_", name).strip(" .")
    suffix = FsPath(name).suffix.lower()
    if not name or name in (".", "..") or suffix not in SUPPORTED_SUFFIXES:
        raise HTTPException(415, f"upload a file named *{', *'.join(SUPPORTED_SUFFIXES)}")
    return name[:120] if len(name) <= 120 else FsPath(name).stem[: 120 - len(suffix)] + suffix


def _summary(report) -> BuildSummary:
    return BuildSummary(index_version=report.build_id, documents=report.documents, chunks=report.chunks,
                        embedded=report.embedded, reused=report.reused, files_read=report.files - report.files_reused,
                        seconds=round(report.seconds.get("total", 0), 2),
                        skipped=[{"file": f, "reason": why} for f, why in report.skipped])


@router.post("/v1/documents", response_model=BuildSummary, status_code=201,
             responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                        413: {"model": ErrorBody, "description": "over the upload size or the document budget"},
                        415: {"model": ErrorBody}, 422: {"model": ErrorBody},
                        504: {"model": ErrorBody, "description": "indexing took longer than QA_UPLOAD_TIMEOUT_S"},
                        507: {"model": ErrorBody, "description": "no space left on the device"}},
             summary="Upload a document (.txt, .md, .docx, .pdf) and index it")
async def upload_document(request: Request, file: UploadFile, service: ServiceDep, _: ApiKey) -> BuildSummary:
    raw = _RAW_FILENAME.search(file.headers.get("content-disposition", "")) if file.headers else None
    name = safe_upload_name(file.filename, raw.group(1).strip().strip('"') if raw else None)
    limit = service.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"uploads are limited to {limit} bytes")
    if not data.strip():
        raise HTTPException(422, f"{name} is empty")
    uploads = (service.settings.corpus_dir / "uploads").resolve()
    uploads.mkdir(parents=True, exist_ok=True)
    target = (uploads / name).resolve()
    if target.parent != uploads:  # belt and braces: the sanitised name must stay inside uploads/
        raise HTTPException(400, "bad file name")
    token = CancelToken(service.settings.upload_timeout_s, what=f"indexing {name}")
    try:
        return await _store_and_index(request, service, data, name, uploads, target, token)
    except DocumentTooLarge as e:
        log.warning("refused upload %s: %s", name, e)
        return error_response(413, "document_too_large", str(e))
    except UnreadableDocument as e:
        raise HTTPException(422, f"cannot read {name}: {e}") from e
    except BuildCancelled as e:
        log.warning("upload of %s stopped, nothing of it was indexed: %s", name, e)
        if e.timed_out:
            return error_response(504, "upload_timeout", f"{e}; nothing was added (QA_UPLOAD_TIMEOUT_S)")
        return error_response(499, "upload_cancelled", f"{e}; nothing was added")
    except OSError as e:
        if e.errno in DISK_FULL_ERRNOS:
            log.error("upload of %s failed: %s", name, e)
            return error_response(507, "insufficient_storage", f"{e}; nothing was added")
        raise


async def _store_and_index(request: Request, service, data: bytes, name: str, uploads: FsPath, target: FsPath,
                           token: CancelToken) -> BuildSummary:
    """Check the file reads (within the document budget) before it replaces anything in the corpus,
    put it in place and index it; if indexing fails or is cancelled, the corpus folder is put back as
    it was (the replaced file restored), so that the folder and the index agree."""
    with tempfile.TemporaryDirectory(dir=uploads) as tmp:
        probe = FsPath(tmp) / name
        probe.write_bytes(data)
        await _cancellable(request, token, read_file, probe, name, service.budget)
        token.check()
        previous = FsPath(tmp) / ".previous"
        had_previous = target.exists()
        if had_previous:
            os.replace(target, previous)
        os.replace(probe, target)
        published = False

        def add():
            nonlocal published
            built = service.add_documents([target], cancel=token)
            published = True  # from here the document is in the index: its file must stay
            return built

        try:
            # the build checks the token between files, between embedding batches, while it waits for
            # another build, and just before it publishes: a deadline or a disconnect stops it there
            report = await _cancellable(request, token, add)
        except BaseException:
            if published:  # the client left after the build published: the upload is complete
                raise
            if had_previous:
                os.replace(previous, target)
            else:
                target.unlink(missing_ok=True)
            raise
    return _summary(report)


async def _cancellable(request: Request, token: CancelToken, fn, *args, **kwargs):
    """Run `fn` in a worker thread; a client that disconnects meanwhile cancels `token`. The thread
    cannot be killed, so this returns (or raises) only once it has stopped at one of its checks:
    whatever cleans up after it runs after the work really ended."""
    task = asyncio.ensure_future(run_in_threadpool(fn, *args, **kwargs))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.25)
            if not task.done() and not token.cancelled and await request.is_disconnected():
                log.warning("client disconnected: cancelling %s", token.what)
                token.cancel("the client disconnected")
    except BaseException:  # the server cancelled the request (the client went away)
        token.cancel("the request was cancelled")
        with anyio.CancelScope(shield=True):
            await asyncio.wait({task})
        raise
    return task.result()


@router.delete("/v1/documents/{doc_id}", response_model=BuildSummary,
               responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody},
                          409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
               summary="Remove a document from the index")
async def delete_document(doc_id: Annotated[str, Path(max_length=200)], service: ServiceDep, _: ApiKey) -> BuildSummary:
    if doc_id not in service.index.documents:
        raise HTTPException(404, f"no document with doc_id {doc_id!r}")
    try:
        report = await run_in_threadpool(service.remove_document, doc_id)
    except KeyError:  # removed by another request or `qa index remove` since the check above
        raise HTTPException(404, f"no document with doc_id {doc_id!r}") from None
    except ValueError as e:
        raise HTTPException(409, str(e)) from e
    return _summary(report)
