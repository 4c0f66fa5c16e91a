"""The citizens' page: `GET /` serves a single HTML page and `GET /static/{name}` its script and style.

The page (api/static/) is plain HTML, CSS and vanilla JavaScript with no build step. It calls the
service's own JSON API (POST /v1/ask, GET /v1/documents/{doc_id}) and loads nothing from anywhere else;
a Content-Security-Policy header makes the browser enforce that.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent / "static"

# the only files served from STATIC_DIR: a fixed list, so no path from the URL ever reaches the disk
ASSETS: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

# everything the page uses comes from this origin; no inline scripts, no frames, no plugins
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index_page() -> FileResponse:
    """The question page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/static/{name}")
async def static_asset(name: str) -> FileResponse:
    """The page's script and style sheet (revalidated on each load, so a deploy shows at once)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media_type,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})
