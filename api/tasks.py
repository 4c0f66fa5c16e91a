"""Routes of who does what: `GET /v1/tasks` (a unit's tasks by role, or every task; JSON or CSV) and
`GET /v1/units` (the unit directory with task counts). Thin: the registry lives in qa.tasks and the
service; this module validates the query, shapes the response and renders CSV."""
from __future__ import annotations

import time
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from qa.service import MAX_TASKS_LIMIT
from qa.tasks import UnknownUnit, tasks_csv

from .deps import ServiceDep
from .schemas import ErrorBody, TaskOut, TasksResponse, UnitInfo, UnitRef, UnitsResponse

router = APIRouter(tags=["tasks"])

_RESPONSES = {
    404: {"model": ErrorBody, "description": "unknown unit (the message names the closest known spellings) "
                                             "or unknown document"},
    422: {"model": ErrorBody, "description": "invalid role, limit or offset"},
    503: {"model": ErrorBody, "description": "the index cannot be loaded (rebuild it with `qa index`)"},
}


def unknown_unit_response(e: UnknownUnit) -> JSONResponse:
    close = "、".join(e.suggestions)
    message = f"no unit named {e.unit!r} in the documents" + (f"; closest spellings: {close}" if close else "")
    return JSONResponse({"error": {"code": "unknown_unit", "message": message, "suggestions": e.suggestions}},
                        status_code=404)


@router.get("/v1/tasks", response_model=TasksResponse, responses={**_RESPONSES, 200: {
                "content": {"text/csv": {}}, "description": "the tasks (format=csv: one row per task)"}},
            summary="The tasks a unit leads or takes part in (or every task), with citations")
async def list_tasks(
    service: ServiceDep,
    unit: Annotated[str | None, Query(max_length=100, description="any spelling of a unit: 住建局, 市住房和城乡建设局 …")] = None,
    role: Annotated[Literal["lead", "support", "any"], Query(description="lead: 牵头; support: 责任/配合 "
                                                                          "without leading; any: either")] = "any",
    doc: Annotated[str | None, Query(max_length=200, description="only tasks of this document (a doc_id)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="words the task must contain (all of them)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TASKS_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    format: Annotated[Literal["json", "csv"], Query(description="csv: a spreadsheet of the same tasks")] = "json",
) -> TasksResponse | Response:
    t0 = time.perf_counter()

    def run() -> tuple:
        result = service.tasks(unit=unit, role=role, doc=doc, q=q, limit=limit, offset=offset)
        return result, [service.task_view(h.record, h.role) for h in result.hits]

    try:
        result, views = await run_in_threadpool(run)
    except UnknownUnit as e:
        return unknown_unit_response(e)
    if format == "csv":
        rows = [{**v, "role": v["role"] or ""} for v in views]
        name = (result.unit["name"] if result.unit else "全部") + f"-{role}"
        return Response(tasks_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename=\"tasks.csv\"; filename*=UTF-8''{quote(name)}.csv"})
    return TasksResponse(
        unit=UnitRef(name=result.unit["name"], aliases=result.unit["aliases"]) if result.unit else None,
        role=role, total=result.total, limit=limit, offset=offset, tasks=[TaskOut(**v) for v in views],
        took_ms=round((time.perf_counter() - t0) * 1000, 2))


@router.get("/v1/units", response_model=UnitsResponse, responses={503: _RESPONSES[503]},
            summary="Every unit the documents assign work to, with its spellings and task counts")
async def list_units(service: ServiceDep) -> UnitsResponse:
    units = await run_in_threadpool(service.units)
    return UnitsResponse(units=[UnitInfo(**u) for u in units])
