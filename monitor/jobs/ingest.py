"""``POST /v1/queries``: production queries pushed by the application (HTTP sources).

The bearer token names the source (each ``kind = "http"`` source has its own
``token_env``). The body is a JSON array or NDJSON of records; a request is
refused whole for a missing or wrong token (401), a wrong Content-Type (415), a
body or record count over the source's limits (413), or a body that is not JSON
at all (400). Otherwise every record is either accepted into the source's
reservoir or rejected with a reason, all in one transaction, and the answer is
202 with the counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from monitor.config import resolve_secret
from monitor.errors import ConfigError, MonitorError
from monitor.jobs.context import ContextSwitch, JobContext
from monitor.jobs.reservoir import StoreResult, store_records
from monitor.server import Request, Response
from monitor.sources.http import MAX_ERRORS, BodyError, IngestBatch, bearer_source, parse_body

__all__ = ["ingest_route"]

log = logging.getLogger("driftmon.ingest")

_JSON = "application/json"


def _answer(status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(doc).encode() + b"\n", _JSON, headers or {})


def ingest_route(live: ContextSwitch) -> Callable[[Request], Response]:
    """The handler of ``POST /v1/queries``; each request uses the current settings (reloads)."""

    def handle(req: Request) -> Response:
        with live.use() as ctx:
            return _handle(ctx, req)

    return handle


def _tokens(ctx: JobContext) -> dict[str, str]:
    out: dict[str, str] = {}
    for src in ctx.settings.sources:
        if src.kind != "http":
            continue
        try:
            out[src.name] = resolve_secret(
                src.token_env, f"sources.{src.name}.token_env", ctx.environ
            )
        except ConfigError as exc:
            log.error("ingest for source %s is off: %s", src.name, exc)
    return out


def _handle(ctx: JobContext, req: Request) -> Response:
    if req.method != "POST":
        return _answer(405, {"error": "use POST"}, {"Allow": "POST"})
    if not any(s.kind == "http" for s in ctx.settings.sources):
        return _answer(404, {"error": "no [[sources]] of kind 'http' is configured"})
    headers = {k.lower(): v for k, v in req.headers.items()}
    known = _tokens(ctx)
    if not known:
        return _answer(
            503,
            {
                "error": "ingest is not configured: no http source has its token environment "
                "variable set"
            },
        )
    name = bearer_source(headers.get("authorization"), known)
    if name is None:
        return _answer(
            401,
            {"error": "missing or wrong bearer token"},
            {"WWW-Authenticate": 'Bearer realm="driftmon"'},
        )
    cfg = next(s for s in ctx.settings.sources if s.name == name)
    try:
        batch = parse_body(req.body, headers.get("content-type"), cfg, ctx.clock)
    except BodyError as exc:
        log.info("ingest %s: refused a request with %d: %s", name, exc.status, exc)
        return _answer(exc.status, {"error": str(exc)})
    try:
        stored = store_records(ctx, cfg, batch.records, batch.counts)
    except MonitorError as exc:  # database or (store_text = false) embedding endpoint
        log.warning("ingest %s: could not store a request: %s", name, exc)
        return _answer(503, {"error": f"not stored, try again: {exc}"}, {"Retry-After": "5"})
    return _accepted(name, batch, stored)


def _accepted(name: str, batch: IngestBatch, stored: StoreResult) -> Response:
    errors = batch.errors + [
        {"index": batch.indices[i], "reason": reason}
        for i, reason in sorted(stored.rejected.items())
    ]
    errors.sort(key=lambda e: e["index"])
    reasons = {
        k[len("rejected_") :]: v
        for k, v in sorted(stored.counts.items())
        if k.startswith("rejected_") and v
    }
    rejected = sum(reasons.values())
    return _answer(
        202,
        {
            "source": name,
            "accepted": stored.counts.get("read", 0) - rejected,
            "rejected": rejected,
            "rejected_by_reason": reasons,
            "sampled": stored.counts.get("sampled", 0) + stored.counts.get("replaced", 0),
            "errors": errors[:MAX_ERRORS],
        },
    )
