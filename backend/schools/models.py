"""The school: every tenant-owned row points at one."""

from __future__ import annotations

from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, Timestamps, UUIDPrimaryKey


class School(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "schools"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    # Absence alerts go to guardians for "absent"; with this, for "late" too.
    alert_on_late: Mapped[bool] = mapped_column(default=False, server_default=false())
