"""The backups' entries in /api/health: how old the last successful backup is (where BACKUP_DIR is
set) and whether the backup bucket answers (where BACKUP_S3_BUCKET is set). Neither is critical:
/ready does not wait for them. `init_app` registers them.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from backend.backups.offsite import bucket_of, reachable
from backend.backups.runs import last_good_backup_at
from backend.config import SETTINGS_EXTENSION, Settings
from backend.core.models import utcnow


def check_backups(app: Flask) -> dict[str, Any]:
    """For /api/health where BACKUP_DIR is set: the last successful backup's age, `degraded` once
    it is older than BACKUP_MAX_AGE_HOURS (or when there is none)."""
    settings: Settings = app.extensions[SETTINGS_EXTENSION]
    newest = last_good_backup_at()
    limit = settings.backup_max_age_hours
    if newest is None:
        return {"status": "degraded", "reason": "no_backup_yet", "max_age_hours": limit}
    age_hours = (utcnow() - newest).total_seconds() / 3600
    return {
        "status": "ok" if age_hours <= limit else "degraded",
        "last_success_at": newest.isoformat().replace("+00:00", "Z"),
        "age_hours": round(age_hours, 2),
        "max_age_hours": limit,
    }


def check_object_storage(app: Flask) -> dict[str, Any]:
    """The backup bucket answers (a HEAD of the bucket, bounded by HEALTH_CHECK_TIMEOUT)."""
    settings: Settings = app.extensions[SETTINGS_EXTENSION]
    bucket = bucket_of(settings)
    if bucket is None:
        return {"status": "not_configured"}
    reachable(bucket, settings.health_check_timeout)
    return {"bucket": bucket.name}
