"""``POST /v1/queries``: production queries pushed by the application (HTTP sources).

The bearer token names the source (each ``kind = "http"`` source has its own
``token_env``). Before any body byte is read, a request is refused whole for a
missing or wrong token (401), a wrong Content-Type (415) or a body over the
source's ``max_body_bytes`` (413); then for a record count over the limit
(413) or a body that is not JSON at all (400). Otherwise every record is
either accepted into the source's reservoir or rejected with a reason, all in
one transaction, and the answer is 202 with the counts.

A request with an ``Idempotency-Key`` header stores its answer under that key
(per source) in the same transaction as its records: a retry with the same key
gets the same answer again and stores nothing more. Keys older than
:data:`KEY_TTL` are deleted by the ingest path itself.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

from monitor.config import SourceSettings, resolve_secret
from monitor.errors import ConfigError, MonitorError
from monitor.jobs.context import ContextSwitch, JobContext
from monitor.jobs.reservoir import StoreResult, store_records
from monitor.server import Request, Response, Route
from monitor.sources.http import MAX_ERRORS, BodyError, bearer_source, media_type, parse_body
from monitor.storage import sources as sources_store
from monitor.storage.engine import Session

__all__ = ["KEY_TTL", "ingest_route"]

log = logging.getLogger("driftmon.ingest")

_JSON = "application/json"
#: how long an idempotency key is remembered (a retry after that is stored again)
KEY_TTL = timedelta(hours=24)
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, like the header itself


class _KeyTaken(Exception):
    """A concurrent request with the same idempotency key committed first."""


def _answer(status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(doc).encode() + b"\n", _JSON, headers or {})


def _accepted(name: str, stored: StoreResult, errors: list[dict[str, Any]]) -> dict[str, Any]:
    reasons = {
        k[len("rejected_") :]: v
        for k, v in sorted(stored.counts.items())
        if k.startswith("rejected_") and v
    }
    rejected = sum(reasons.values())
    return {
        "source": name,
        "accepted": stored.counts.get("read", 0) - rejected,
        "rejected": rejected,
        "rejected_by_reason": reasons,
        "sampled": stored.counts.get("sampled", 0) + stored.counts.get("replaced", 0),
        "truncated": stored.counts.get("truncated", 0),
        "errors": errors[:MAX_ERRORS],
    }


class _Ingest:
    """The guard and the handler of one request, on one settings snapshot (reloads)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx

    def tokens(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for src in self.ctx.settings.sources:
            if src.kind != "http":
                continue
            try:
                out[src.name] = resolve_secret(
                    src.token_env, f"sources.{src.name}.token_env", self.ctx.environ
                )
            except ConfigError as exc:
                log.error("ingest for source %s is off: %s", src.name, exc)
        return out

    def source(self, req: Request) -> SourceSettings | Response:
        if not any(s.kind == "http" for s in self.ctx.settings.sources):
            return _answer(404, {"error": "no [[sources]] of kind 'http' is configured"})
        known = self.tokens()
        if not known:
            return _answer(
                503,
                {
                    "error": "ingest is not configured: no http source has its "
                    "token environment variable set"
                },
            )
        name = bearer_source(req.headers.get("authorization"), known)
        if name is None:
            return _answer(
                401,
                {"error": "missing or wrong bearer token"},
                {"WWW-Authenticate": 'Bearer realm="driftmon"'},
            )
        return next(s for s in self.ctx.settings.sources if s.name == name)

    def guard(self, head: Request) -> Response | int:
        """Checked on the headers alone: the body cap of the token's source, or a refusal."""
        cfg = self.source(head)
        if isinstance(cfg, Response):
            return cfg
        if media_type(head.headers.get("content-type")) is None:
            return _answer(
                415,
                {
                    "error": "Content-Type must be application/json (an array of records) or "
                    "application/x-ndjson (one record per line), in UTF-8"
                },
            )
        key = head.headers.get("idempotency-key")
        if key is not None and not _KEY.fullmatch(key):
            return _answer(400, {"error": "Idempotency-Key must be 1-200 visible ASCII characters"})
        return cfg.max_body_bytes

    def handle(self, req: Request) -> Response:
        cfg = self.source(req)
        if isinstance(cfg, Response):
            return cfg
        key = req.headers.get("idempotency-key")
        if key is not None and (replay := self._replay(cfg.name, key)) is not None:
            return replay
        try:
            batch = parse_body(req.body, req.headers.get("content-type"), cfg, self.ctx.clock)
        except BodyError as exc:
            log.info("ingest %s: refused a request with %d: %s", cfg.name, exc.status, exc)
            return _answer(exc.status, {"error": str(exc)})
        now = self.ctx.clock.now()
        doc: dict[str, Any] = {}

        def keep_answer(s: Session, stored: StoreResult) -> None:
            errors = batch.errors + [
                {"index": batch.indices[i], "reason": reason}
                for i, reason in sorted(stored.rejected.items())
            ]
            errors.sort(key=lambda e: e["index"])
            doc.clear()
            doc.update(_accepted(cfg.name, stored, errors))
            if key is not None:
                sources_store.prune_ingest_answers(s, now - KEY_TTL)
                if not sources_store.save_ingest_answer(s, cfg.name, key, 202, doc, now):
                    raise _KeyTaken

        try:
            store_records(self.ctx, cfg, batch.records, batch.counts, answer=keep_answer)
        except _KeyTaken:
            replay = self._replay(cfg.name, key or "")
            if replay is not None:
                return replay
            return _answer(409, {"error": "a request with this Idempotency-Key is in progress"})
        except MonitorError as exc:  # database or (store_text = false) embedding endpoint
            log.warning("ingest %s: could not store a request: %s", cfg.name, exc)
            return _answer(503, {"error": f"not stored, try again: {exc}"}, {"Retry-After": "5"})
        return _answer(202, doc)

    def _replay(self, source: str, key: str) -> Response | None:
        try:
            with self.ctx.db.read() as s:
                found = sources_store.find_ingest_answer(s, source, key)
        except MonitorError as exc:
            return _answer(503, {"error": f"try again: {exc}"}, {"Retry-After": "5"})
        if found is None:
            return None
        status, doc = found
        return _answer(status, doc, {"Idempotent-Replayed": "true"})


def ingest_route(live: ContextSwitch) -> Route:
    """The route of ``POST /v1/queries``; each request uses the current settings."""

    def guard(head: Request) -> Response | int:
        return _Ingest(live.current).guard(head)

    def handle(req: Request) -> Response:
        with live.use() as ctx:
            return _Ingest(ctx).handle(req)

    return Route(handle, ("POST",), guard)
