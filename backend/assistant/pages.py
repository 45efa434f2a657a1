"""The pages of the web app and the actions each role may take there, with the permission each
needs, so help never offers what the caller cannot do."""

from __future__ import annotations

from dataclasses import dataclass

from backend.assistant.catalogue import PageName
from backend.tenancy import Role, allowed


@dataclass(frozen=True)
class Action:
    title: str
    how: str
    permission: str


@dataclass(frozen=True)
class Page:
    name: PageName
    title: str
    summary: str
    actions: tuple[Action, ...]
    permission: str  # needed to open the page at all


PAGES: tuple[Page, ...] = (
    Page(
        "dashboard",
        "Dashboard",
        "Each of your children at a glance: today's attendance, the term's rate, recent grades, fees.",
        (
            Action(
                "See a child's day",
                "Open the dashboard: today's marks show under each child.",
                "dashboard.parent",
            ),
            Action("Ask the assistant", "Use the question box at the top of any page.", "assistant.use"),
        ),
        "auth.self",
    ),
    Page(
        "students",
        "Students",
        "The students you may see: the whole school for admins, your classes for teachers, "
        "your children for parents.",
        (
            Action("Find a student", "Type a name or admission number in the search box.", "students.read"),
            Action("Admit a student", "Press 'Add student' and fill in the form.", "students.manage"),
            Action(
                "Withdraw a student",
                "Open the student and press 'Withdraw'; the history stays.",
                "students.manage",
            ),
        ),
        "students.read",
    ),
    Page(
        "student",
        "A student",
        "One student's details, guardians, attendance, grades, fees and health, as your role allows.",
        (
            Action("Edit details", "Press 'Edit' on the student's page.", "students.manage"),
            Action("Link a guardian", "Open 'Guardians' and press 'Link parent'.", "guardians.manage"),
            Action("See guardians", "Open the 'Guardians' tab.", "guardians.read"),
            Action("Ask about this student", "Use the 'Ask' box on the student's page.", "assistant.use"),
        ),
        "students.read",
    ),
    Page(
        "attendance",
        "Attendance",
        "Registers by class and day, and each student's record with the attendance rate.",
        (
            Action(
                "Take the register",
                "Pick the class and the day, set each mark, press 'Save'.",
                "attendance.record",
            ),
            Action(
                "Correct a mark",
                "Open the day's register and change the mark; it is audited.",
                "attendance.record",
            ),
            Action(
                "Mark an absence as excused",
                "Change the mark to 'Excused' (admins only).",
                "attendance.excuse",
            ),
            Action("See a child's attendance", "Open the child and the 'Attendance' tab.", "attendance.read"),
            Action(
                "Report an absence",
                "Tell the school office as the school's 'Reporting an absence' entry says; the office "
                "records it in the register.",
                "dashboard.parent",
            ),
        ),
        "attendance.read",
    ),
    Page(
        "grades",
        "Grades",
        "Assessments by class and each student's results with term averages.",
        (
            Action("Add an assessment", "Open the class, 'Assessments', 'Add'.", "grades.record"),
            Action("Enter grades", "Open the assessment and type each score; press 'Save'.", "grades.record"),
            Action("Publish to parents", "Tick 'Published' on the assessment.", "grades.record"),
            Action(
                "See results",
                "Open the student and the 'Grades' tab (parents: published ones).",
                "grades.read",
            ),
        ),
        "grades.read",
    ),
    Page(
        "fees",
        "Fees",
        "Invoices, payments and balances in the school's currency.",
        (
            Action(
                "See the balance",
                "Open the 'Fees' tab: outstanding, overdue and the next due date.",
                "fees.read",
            ),
            Action("Create an invoice", "Press 'New invoice', add lines, then 'Issue'.", "fees.manage"),
            Action("Record a payment", "Open the invoice and press 'Record payment'.", "fees.manage"),
            Action(
                "Pay a fee",
                "Homeroom shows what is owed but does not take payments: pay as the school's "
                "'Paying fees' entry says, quoting the invoice number.",
                "dashboard.parent",
            ),
        ),
        "fees.read",
    ),
    Page(
        "health",
        "Health",
        "A student's health record: teachers see allergies and alerts; permitted parents and "
        "admins all of it.",
        (
            Action("See allergies and alerts", "Open the student and the 'Health' tab.", "health.read"),
            Action(
                "Update the record",
                "Press 'Edit' on the 'Health' tab; every change is audited.",
                "health.manage",
            ),
        ),
        "health.read",
    ),
    Page(
        "classes",
        "Classes",
        "Terms, classes and who is enrolled in each.",
        (
            Action("See your classes", "Open 'Classes': the ones you teach are listed.", "classes.read"),
            Action("Create a class", "Press 'New class' and choose the term and teacher.", "classes.manage"),
            Action("Enroll students", "Open the class, 'Students', 'Enroll'.", "classes.manage"),
        ),
        "classes.read",
    ),
    Page(
        "users",
        "Users",
        "The school's accounts: admins, teachers and parents.",
        (
            Action(
                "Add a user", "Press 'Add user', choose the role and set a first password.", "users.manage"
            ),
            Action(
                "Edit a user's details",
                "Open the user and press 'Edit' to change the name, role or whether the account is "
                "active. An email address cannot be changed: add a new account for a new address.",
                "users.manage",
            ),
            Action(
                "Deactivate a user",
                "Open the user and press 'Deactivate'; their sessions end.",
                "users.manage",
            ),
        ),
        "users.read",
    ),
    Page(
        "audit",
        "Audit trail",
        "Who changed what, and when: every change and every health-record view.",
        (
            Action("Filter events", "Choose an action, a user or a date range.", "audit.read"),
            Action(
                "See who changed a record",
                "Filter by the record (a grade, a mark, an invoice, a health record): each change is "
                "listed with who made it, when, and the values before and after.",
                "audit.read",
            ),
        ),
        "audit.read",
    ),
    Page(
        "knowledge",
        "Knowledge base",
        "The school's FAQ and policies, which the assistant answers from.",
        (
            Action("Read an entry", "Search or browse the list.", "knowledge.read"),
            Action(
                "Add or edit an entry",
                "Press 'New entry', or 'Edit' on one; choose who may read it.",
                "knowledge.manage",
            ),
        ),
        "knowledge.read",
    ),
    Page(
        "account",
        "Your account",
        "Your name, email, password and signed-in devices.",
        (
            Action(
                "Change your password",
                "Enter the current one and the new one; other devices sign out.",
                "auth.self",
            ),
            Action("Sign out everywhere", "Press 'Sign out of all devices'.", "auth.self"),
            Action(
                "Change your contact details",
                "Homeroom keeps only your name and email, no phone number or address. Ask the school "
                "office to change them: an admin edits your account on the Users page.",
                "auth.self",
            ),
        ),
        "auth.self",
    ),
)
PAGE_BY_NAME = {page.name: page for page in PAGES}


def actions_for(page: Page, role: Role | str) -> list[Action]:
    return [action for action in page.actions if allowed(role, action.permission)]
