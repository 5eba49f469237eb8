"""Model versions: one row per (model, configuration identity).

Callers own the transaction; functions return domain records, never ORM rows.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.domain import ModelVersionRef
from monitor.storage.schema import (
    ModelVersion,
)

__all__ = [
    "active_model_versions",
    "config_identity",
    "ensure_model_version",
    "note_identity",
]

_IDENTITY_KEYS = (
    "provider",
    "model",
    "base_url",
    "dimensions",
    "query_prefix",
    "document_prefix",
    "normalize",
    "seed",
)


def _ref(mv: ModelVersion) -> ModelVersionRef:
    return ModelVersionRef(
        id=mv.id,
        model=mv.model_name,
        version=mv.version,
        provider=mv.provider,
        model_id=mv.model_id,
        dimensions=mv.dimensions,
        fingerprint=mv.fingerprint,
        reported_identity=mv.reported_identity,
    )


def note_identity(
    session: Session, model_version_id: int, identity: dict[str, str], now: datetime
) -> dict[str, list[str | None]]:
    """Store what the endpoint reports about itself; return the keys whose value changed.

    Compared with the stored value, not with memory: a restart does not hide a change.
    A key seen for the first time is not a change.
    """
    mv = session.get(ModelVersion, model_version_id)
    if mv is None or not identity:
        return {}
    before = dict(mv.reported_identity or {})
    changed: dict[str, list[str | None]] = {
        k: [before[k], v] for k, v in sorted(identity.items()) if k in before and before[k] != v
    }
    mv.reported_identity = {**before, **identity}
    mv.identity_seen_at = now
    return changed


def config_identity(settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The hash of what makes a model version: settings that change the vectors."""
    ident = {k: settings.get(k) for k in _IDENTITY_KEYS}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    return digest, ident


def ensure_model_version(
    session: Session, name: str, settings: dict[str, Any], now: datetime
) -> ModelVersionRef:
    """The model version for this configuration of model ``name``, created if new.

    An INSERT ... ON CONFLICT DO NOTHING, so concurrent creators (ingest requests,
    jobs, replicas) all end with the same row instead of a unique violation.
    """
    digest, ident = config_identity(settings)
    active = bool(settings.get("active", True))  # an evaluated candidate is not monitored
    table = ModelVersion.__table__
    dialect = session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert_(table)  # type: ignore[arg-type]
        .values(
            model_name=name,
            version="v" + digest[:8],
            provider=ident["provider"],
            model_id=str(ident["model"]),
            dimensions=int(ident["dimensions"]),
            config_hash=digest,
            config=ident,
            active=active,
            created_at=now,
            last_seen_at=now,
        )
        .on_conflict_do_nothing()
    )
    mv = session.scalars(
        select(ModelVersion).where(
            ModelVersion.model_name == name, ModelVersion.config_hash == digest
        )
    ).one()
    mv.last_seen_at = now
    mv.active = active
    return _ref(mv)


def active_model_versions(session: Session) -> list[ModelVersionRef]:
    rows = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.active.is_(True))
        .order_by(ModelVersion.model_name, ModelVersion.id)
    )
    return [_ref(mv) for mv in rows]
