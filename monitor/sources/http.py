"""HTTP ingest bodies: a JSON array or NDJSON of records, checked before anything is stored.

Pure parsing and authentication; the handler that stores what this returns is
``monitor.jobs.ingest``. A body the source cannot read at all raises
:class:`BodyError` with the HTTP status to answer; a single bad record is only
counted (``rejected_<reason>``) and reported back by index.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.clock import Clock
from monitor.config import SourceSettings
from monitor.sources.records import Counts, SourceRecord, record_from_fields

__all__ = ["MEDIA_TYPES", "BodyError", "IngestBatch", "bearer_source", "parse_body"]

#: accepted Content-Types and the body format they announce
MEDIA_TYPES = {"application/json": "json", "application/x-ndjson": "ndjson"}
#: per-record errors echoed back in one response at most
MAX_ERRORS = 20


class BodyError(Exception):
    """The whole request is refused with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class IngestBatch:
    records: list[SourceRecord] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    errors: list[dict[str, Any]] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)  # position in the body of each record

    def reject(self, index: int, reason: str) -> None:
        self.counts.add("rejected_" + reason)
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"index": index, "reason": reason})


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bearer_source(authorization: str | None, tokens: Mapping[str, str]) -> str | None:
    """The name of the source whose token the ``Authorization: Bearer`` header carries.

    Every token is compared, in constant time and on equal-length digests, so the
    answer's timing tells neither which source nor how much of a token matched.
    """
    scheme, _, presented = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    given = _digest(presented.strip())
    found: str | None = None
    for name, token in tokens.items():
        if hmac.compare_digest(given, _digest(token)) and found is None:
            found = name
    return found


def media_type(content_type: str | None) -> str | None:
    """``json`` or ``ndjson`` for an accepted Content-Type (UTF-8 only), else None."""
    main, *params = (content_type or "").split(";")
    kind = MEDIA_TYPES.get(main.strip().lower())
    for p in params:
        key, _, value = p.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return None
    return kind


def parse_body(
    body: bytes, content_type: str | None, settings: SourceSettings, clock: Clock
) -> IngestBatch:
    """The records of one request body; raises BodyError for a body refused whole."""
    kind = media_type(content_type)
    if kind is None:
        raise BodyError(
            415,
            "Content-Type must be application/json (an array of records) or "
            "application/x-ndjson (one record per line), in UTF-8",
        )
    if len(body) > settings.max_body_bytes:
        raise BodyError(
            413, f"body of {len(body)} bytes is over the limit of {settings.max_body_bytes}"
        )
    if not body.strip():
        raise BodyError(400, "empty body")
    batch = IngestBatch()
    items: list[tuple[int, object]] = []
    limit = settings.max_records_per_request
    if kind == "json":
        try:
            doc = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise BodyError(400, "body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise BodyError(
                400, f"body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
        except RecursionError:
            raise BodyError(400, "body is nested too deeply") from None
        except ValueError:  # an integer of more digits than Python converts
            raise BodyError(400, "body holds a number too large to read") from None
        if not isinstance(doc, list):
            raise BodyError(400, "expected a JSON array of records")
        if len(doc) > limit:
            raise BodyError(413, f"{len(doc)} records in one request; the limit is {limit}")
        items = list(enumerate(doc))
    else:
        lines = [line for line in body.split(b"\n") if line.strip()]
        if len(lines) > limit:
            raise BodyError(413, f"{len(lines)} records in one request; the limit is {limit}")
        for i, line in enumerate(lines):
            try:
                items.append((i, json.loads(line.decode("utf-8"))))
            except UnicodeDecodeError:
                batch.counts.add("read")
                batch.reject(i, "not_utf8")
            except RecursionError:
                batch.counts.add("read")
                batch.reject(i, "nested_too_deep")
            except ValueError:  # JSONDecodeError, or a number too large to read
                batch.counts.add("read")
                batch.reject(i, "malformed_json")
    for i, item in items:
        batch.counts.add("read")
        if not isinstance(item, dict):
            batch.reject(i, "not_an_object")
            continue
        got = record_from_fields(item.get, settings, clock)
        if isinstance(got, str):
            batch.reject(i, got)
        else:
            batch.records.append(got)
            batch.indices.append(i)
    batch.errors.sort(key=lambda e: e["index"])
    return batch
