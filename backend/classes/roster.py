"""What the student rules need to know of classes (students.access.Roster), given to them at start-up."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select

from backend.classes.models import Enrollment, SchoolClass
from backend.tenancy import AuthContext


class ClassRoster:
    def taught_by(self, auth: AuthContext) -> Select[uuid.UUID]:
        return (
            select(Enrollment.student_id)
            .join(SchoolClass, SchoolClass.id == Enrollment.class_id)
            .where(SchoolClass.teacher_id == auth.user_id, auth.owns(SchoolClass))
        )

    def enrolled_in(self, auth: AuthContext, class_id: uuid.UUID) -> Select[uuid.UUID]:
        return select(Enrollment.student_id).where(Enrollment.class_id == class_id, auth.owns(Enrollment))
