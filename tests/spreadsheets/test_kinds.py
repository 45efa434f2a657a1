"""Classes, enrollments and guardians from CSV: their natural keys and their rules."""

from __future__ import annotations

from sqlalchemy import select

from backend.auth.models import User
from backend.core.extensions import db
from backend.mail.models import OutboxMessage
from tests.school import World
from tests.spreadsheets.conftest import post_csv


def test_classes_by_term_and_name(world: World) -> None:
    teacher = world.accounts["teacher"].email
    text = (
        "term,name,subject,grade_level,teacher_email\r\n"
        f"Current term,5 Science,Science,5,{teacher}\r\n"
        "Current term,5 Maths,Mathematics,5,\r\n"  # exists: the subject and teacher change
        "No such term,X,Y,5,\r\n"
        f"Current term,5 History,History,5,{world.accounts['parent'].email}\r\n"  # not a teacher
    )
    refused = post_csv(world, "classes", text).get_json()
    assert [(e["row"], e["column"]) for e in refused["report"]["errors"]] == [
        (4, "term"),
        (5, "teacher_email"),
    ]
    lines = text.split("\r\n")
    report = post_csv(world, "classes", "\r\n".join(lines[:3]) + "\r\n").get_json()
    assert (report["create"], report["update"]) == (1, 1)
    names = [
        c["name"]
        for c in world.client.get("/api/classes?limit=50", headers=world.as_("admin")).get_json()["items"]
    ]
    assert "5 Science" in names


def test_enrollments_by_student_and_class(world: World) -> None:
    text = (
        "admission_number,term,class_name\r\n"
        "A-001,Current term,5 Art\r\n"
        "A-001,Current term,5 Maths\r\n"  # already enrolled
        "A-999,Current term,5 Art\r\n"
        "A-002,Current term,5 Nothing\r\n"
    )
    refused = post_csv(world, "enrollments", text).get_json()
    assert [(e["row"], e["column"]) for e in refused["report"]["errors"]] == [
        (4, "admission_number"),
        (5, "class_name"),
    ]
    report = post_csv(world, "enrollments", "\r\n".join(text.split("\r\n")[:3]) + "\r\n").get_json()
    assert (report["create"], report["unchanged"]) == (1, 1)
    again = post_csv(world, "enrollments", "\r\n".join(text.split("\r\n")[:3]) + "\r\n").get_json()
    assert (again["create"], again["unchanged"]) == (0, 2)


def test_guardians_create_parent_accounts_and_links(world: World) -> None:
    text = (
        "admission_number,email,full_name,relationship,is_primary,can_view_finance,can_view_health\r\n"
        "A-002,New.Parent@Example.org,Nora New,mother,yes,1,no\r\n"
        "A-001,new.parent@example.org,Nora New,aunt,,,\r\n"  # the same new account, a second child
        f"A-002,{world.accounts['parent'].email},Existing Parent,father,no,no,yes\r\n"
    )
    report = post_csv(world, "guardians", text, invite="true").get_json()
    assert (report["create"], report["applied"]) == (3, True)
    with world.app.app_context():
        accounts = db.session.scalars(select(User).where(User.email == "new.parent@example.org")).all()
        assert [(u.role, u.full_name) for u in accounts] == [("parent", "Nora New")]
        invitations = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "invitation")
        ).all()
        assert [m.recipient for m in invitations] == ["new.parent@example.org"]
    guardians = world.client.get(
        f"/api/students/{world.ids['bob']}/guardians", headers=world.as_("admin")
    ).get_json()
    flags = {
        g["email"]: (g["relationship"], g["is_primary"], g["can_view_finance"]) for g in guardians["items"]
    }
    assert flags["new.parent@example.org"] == ("mother", True, True)
    again = post_csv(world, "guardians", text).get_json()
    assert (again["create"], again["unchanged"]) == (0, 3)
    bad = (
        "admission_number,email,full_name,relationship\r\n"
        f"A-001,{world.accounts['teacher'].email},Teacher,uncle\r\n"
        f"A-001,{world.accounts['other_school_admin'].email},Other,uncle\r\n"
        "A-001,not-an-email,X,uncle\r\n"
    )
    errors = post_csv(world, "guardians", bad).get_json()["report"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "email"), (3, "email"), (4, "email")]
