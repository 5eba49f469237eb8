"""Model versions: one row per (model, configuration identity).

Callers own the transaction; functions return domain records, never ORM rows.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.domain import ModelVersionRef
from monitor.storage.schema import (
    ModelVersion,
)

__all__ = [
    "active_model_versions",
    "config_identity",
    "ensure_model_version",
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
    )


def config_identity(settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The hash of what makes a model version: settings that change the vectors."""
    ident = {k: settings.get(k) for k in _IDENTITY_KEYS}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
    return digest, ident


def ensure_model_version(
    session: Session, name: str, settings: dict[str, Any], now: datetime
) -> ModelVersionRef:
    """The model version for this configuration of model ``name``, created if new."""
    digest, ident = config_identity(settings)
    mv = session.scalars(
        select(ModelVersion).where(
            ModelVersion.model_name == name, ModelVersion.config_hash == digest
        )
    ).one_or_none()
    active = bool(settings.get("active", True))  # an evaluated candidate is not monitored
    if mv is None:
        mv = ModelVersion(
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
        session.add(mv)
        session.flush()
    else:
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
