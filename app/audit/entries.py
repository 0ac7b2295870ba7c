"""Audit entries: who did what to which object, written in the caller's transaction."""

from __future__ import annotations

from typing import Any

from ..core.extensions import db
from ..models import AuditEntry


def record(user_id: int | None, action: str, obj: Any, details: dict | None = None) -> AuditEntry:
    entry = AuditEntry(
        user_id=user_id,
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=getattr(obj, "id", None),
        details=details or {},
    )
    db.session.add(entry)
    return entry
