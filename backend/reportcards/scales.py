"""Grade scales: a school's named scales, its default, a class's own; the average rounded and
banded in one place (`Scale.grade`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, select, update

from backend import audit
from backend.classes import SchoolClass, visible_class
from backend.core.errors import Conflict, NotFound
from backend.core.extensions import db
from backend.core.models import utcnow
from backend.reportcards.models import ClassGradeScale, GradeScale
from backend.reportcards.schemas import ClassScaleOut, ScaleIn, ScaleUpdateIn
from backend.tenancy import AuthContext

SCALE_FIELDS = ("name", "bands", "decimals", "is_default")


@dataclass(frozen=True)
class Scale:
    """What results need of a scale: its rounding and its bands, highest first."""

    id: uuid.UUID
    name: str
    decimals: int
    bands: tuple[tuple[Decimal, str], ...]

    @classmethod
    def of(cls, row: GradeScale) -> Scale:
        bands = tuple((Decimal(str(band["min"])), str(band["label"])) for band in row.bands)
        return cls(row.id, row.name, row.decimals, bands)

    def rounded(self, average: Decimal) -> Decimal:
        """Half up to the scale's places (ties that floating point blurred, on SQLite, settled first)."""
        settled = round(average, 6)
        return settled.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)

    def grade(self, rounded: Decimal) -> str:
        """The label of the first band the rounded average reaches."""
        return next(label for low, label in self.bands if rounded >= low)


def round_plain(average: Decimal) -> Decimal:
    """An average when the class has no scale: half up to one place."""
    return round(average, 6).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def list_scales(auth: AuthContext) -> list[GradeScale]:
    return list(db.session.scalars(auth.scoped(GradeScale).order_by(GradeScale.name, GradeScale.id)))


def get_scale(auth: AuthContext, scale_id: uuid.UUID) -> GradeScale:
    scale = db.session.scalar(auth.scoped(GradeScale).where(GradeScale.id == scale_id))
    if scale is None:
        raise NotFound("Grade scale not found.")
    return scale


def _name_free(auth: AuthContext, name: str, scale_id: uuid.UUID | None = None) -> None:
    taken = db.session.scalar(
        select(GradeScale.id).where(
            auth.owns(GradeScale), GradeScale.name == name, GradeScale.id != (scale_id or uuid.UUID(int=0))
        )
    )
    if taken is not None:
        raise Conflict(f"The school already has a scale named {name!r}.")


def _only_default(auth: AuthContext, keep: GradeScale) -> None:
    db.session.execute(
        update(GradeScale)
        .where(auth.owns(GradeScale), GradeScale.id != keep.id, GradeScale.is_default.is_(True))
        .values(is_default=False, updated_at=utcnow())
    )
    db.session.flush()  # before `keep` becomes the default: one default at a time, in the index too


def create_scale(auth: AuthContext, data: ScaleIn) -> GradeScale:
    _name_free(auth, data.name)
    values = data.model_dump(mode="json")
    scale = GradeScale(school_id=auth.school_id, **{**values, "is_default": False})
    db.session.add(scale)
    db.session.flush()
    if data.is_default:
        _only_default(auth, scale)
        scale.is_default = True
    audit.record(auth, "grade_scale.create", resource=scale, resource_type="grade_scale", changes=values)
    db.session.commit()
    return scale


def _changes_grading(scale: GradeScale, data: ScaleUpdateIn) -> bool:
    """Whether the update would grade differently: other bands (by value: 90 is "90.0") or places."""
    bands = data.bands is not None and [(b.min, b.label) for b in data.bands] != list(Scale.of(scale).bands)
    return bands or (data.decimals is not None and data.decimals != scale.decimals)


def update_scale(auth: AuthContext, scale_id: uuid.UUID, data: ScaleUpdateIn) -> GradeScale:
    scale = get_scale(auth, scale_id)
    values = data.model_dump(mode="json", include=data.model_fields_set)
    if scale.locked_at is not None and _changes_grading(scale, data):
        raise Conflict(
            "Published reports use this scale: its bands and rounding cannot change. "
            "Create a new scale and give it to the classes instead."
        )
    if "name" in values:
        _name_free(auth, values["name"], scale.id)
    if values.get("is_default"):
        _only_default(auth, scale)
    before = audit.snapshot(scale, SCALE_FIELDS)
    for name, value in values.items():
        setattr(scale, name, value)
    if changes := audit.diff(before, audit.snapshot(scale, SCALE_FIELDS)):
        audit.record(auth, "grade_scale.update", resource=scale, resource_type="grade_scale", changes=changes)
    db.session.commit()
    return scale


def delete_scale(auth: AuthContext, scale_id: uuid.UUID) -> None:
    scale = get_scale(auth, scale_id)
    if scale.locked_at is not None:
        raise Conflict("Published reports use this scale; it is kept with them.")
    if scale.is_default:
        raise Conflict("This is the school's default scale: make another one the default first.")
    used = db.session.scalar(select(ClassGradeScale.id).where(ClassGradeScale.scale_id == scale.id).limit(1))
    if used is not None:
        raise Conflict("Classes use this scale; give them another one first.")
    audit.record(auth, "grade_scale.delete", resource=scale, resource_type="grade_scale", changes={})
    db.session.delete(scale)
    db.session.commit()


def class_scale(auth: AuthContext, class_id: uuid.UUID) -> ClassScaleOut:
    visible_class(auth, class_id)
    own = db.session.scalar(
        select(ClassGradeScale.scale_id).where(
            auth.owns(ClassGradeScale), ClassGradeScale.class_id == class_id
        )
    )
    if own is not None:
        return ClassScaleOut(class_id=class_id, scale_id=own, own=True)
    default = db.session.scalar(
        select(GradeScale.id).where(auth.owns(GradeScale), GradeScale.is_default.is_(True))
    )
    return ClassScaleOut(class_id=class_id, scale_id=default, own=False)


def set_class_scale(auth: AuthContext, class_id: uuid.UUID, scale_id: uuid.UUID | None) -> ClassScaleOut:
    visible_class(auth, class_id)
    if scale_id is not None:
        get_scale(auth, scale_id)
    before = class_scale(auth, class_id)
    db.session.execute(
        delete(ClassGradeScale).where(auth.owns(ClassGradeScale), ClassGradeScale.class_id == class_id)
    )
    if scale_id is not None:
        db.session.add(ClassGradeScale(school_id=auth.school_id, class_id=class_id, scale_id=scale_id))
    audit.record(
        auth,
        "class.grade_scale",
        resource_id=class_id,
        resource_type="class",
        changes={"scale_id": {"before": before.scale_id if before.own else None, "after": scale_id}},
    )
    db.session.commit()
    return class_scale(auth, class_id)


def scales_for(auth: AuthContext, class_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Scale | None]:
    """Each class's scale (its own, else the school's default, else none), in one query."""
    ids = list(class_ids)
    rows = db.session.execute(
        select(SchoolClass.id, GradeScale)
        .outerjoin(
            ClassGradeScale,
            (ClassGradeScale.class_id == SchoolClass.id) & auth.owns(ClassGradeScale),
        )
        .join(
            GradeScale,
            auth.owns(GradeScale)
            & (
                (GradeScale.id == ClassGradeScale.scale_id)
                | (ClassGradeScale.id.is_(None) & GradeScale.is_default.is_(True))
            ),
            isouter=True,
        )
        .where(auth.owns(SchoolClass), SchoolClass.id.in_(ids))
    )
    return {class_id: Scale.of(scale) if scale else None for class_id, scale in rows}


def lock(scale_ids: Iterable[uuid.UUID]) -> None:
    """Fix the bands and rounding of scales that a report is being published with."""
    ids = set(scale_ids)
    if ids:
        db.session.execute(
            update(GradeScale)
            .where(GradeScale.id.in_(ids), GradeScale.locked_at.is_(None))
            .values(locked_at=utcnow())
        )
