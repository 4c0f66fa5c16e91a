"""Write endpoints: upload a document into the corpus and index it, or remove one.

Both need the API key (`QA_API_KEY`, header `X-API-Key`, compared in constant time); without a
configured key they are switched off (403), never open. Uploaded file names are not trusted: only a
sanitised base name is kept, and the file is written inside `<corpus>/uploads/` and nowhere else.
"""
from __future__ import annotations

import hmac
import re
import tempfile
from pathlib import Path as FsPath
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, HTTPException, Path, UploadFile
from fastapi.concurrency import run_in_threadpool

from qa.readers import SUPPORTED_SUFFIXES

from .deps import ServiceDep
from .schemas import BuildSummary, ErrorBody

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
                        413: {"model": ErrorBody}, 415: {"model": ErrorBody}, 422: {"model": ErrorBody}},
             summary="Upload a document (.txt, .md, .docx, .pdf) and index it")
async def upload_document(file: UploadFile, service: ServiceDep, _: ApiKey) -> BuildSummary:
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
    # check the file reads before it replaces anything in the corpus
    from qa.readers import UnreadableDocument, read_file

    with tempfile.TemporaryDirectory(dir=uploads) as tmp:
        probe = FsPath(tmp) / name
        probe.write_bytes(data)
        try:
            await run_in_threadpool(read_file, probe, name)
        except UnreadableDocument as e:
            raise HTTPException(422, f"cannot read {name}: {e}") from e
        probe.replace(target)
    report = await run_in_threadpool(service.add_documents, [target])
    return _summary(report)


@router.delete("/v1/documents/{doc_id}", response_model=BuildSummary,
               responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody},
                          409: {"model": ErrorBody}, 422: {"model": ErrorBody}},
               summary="Remove a document from the index")
async def delete_document(doc_id: Annotated[str, Path(max_length=200)], service: ServiceDep, _: ApiKey) -> BuildSummary:
    if doc_id not in service.index.documents:
        raise HTTPException(404, f"no document with doc_id {doc_id!r}")
    try:
        report = await run_in_threadpool(service.remove_document, doc_id)
    except ValueError as e:
        raise HTTPException(409, str(e)) from e
    return _summary(report)
