"""A student's health record: every field is encrypted at rest."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.crypto import EncryptedJSON, EncryptedText
from backend.core.models import Base, TenantOwned, Timestamps, UUIDPrimaryKey


class HealthRecord(UUIDPrimaryKey, Timestamps, TenantOwned, Base):
    __tablename__ = "health_records"
    __table_args__ = (
        Index("ix_health_records_school_id_student_id", "school_id", "student_id", unique=True),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("students.id", ondelete="RESTRICT"))
    blood_type: Mapped[str | None] = mapped_column(EncryptedText)
    allergies: Mapped[list[dict[str, Any]]] = mapped_column(EncryptedJSON)
    conditions: Mapped[list[str]] = mapped_column(EncryptedJSON)
    medications: Mapped[list[dict[str, Any]]] = mapped_column(EncryptedJSON)
    alerts: Mapped[list[str]] = mapped_column(EncryptedJSON)
    physician: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    notes: Mapped[str | None] = mapped_column(EncryptedText)
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
