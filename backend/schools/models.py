"""The school: every tenant-owned row points at one."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.models import Base, Timestamps, UUIDPrimaryKey


class School(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "schools"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
