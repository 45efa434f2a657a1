"""The load: parents, teachers and admins at 6:2:2, each signing in first, 1-3 s between actions,
in steps of users (LoadTestShape). Every request goes to requests.jsonl and every write (its
intent before it is sent, its outcome after) to writes.jsonl, for bench/load/run.py to analyse.

Run only by bench/load/run.py, as `locust -f` in a process of its own: Locust's gevent patches
the standard library, so nothing here imports the app. Configured by the environment:
LOAD_SCHOOL (school.json), LOAD_LOG_DIR, LOAD_STEPS ("users:seconds,..."), LOAD_SPAWN_RATE,
LOAD_TIMEOUT (seconds a client waits for an answer)."""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from locust import HttpUser, LoadTestShape, between, events, task

from bench.load.client import (
    KEEPALIVE_SECONDS,
    MAX_SIGN_INS,
    TRANSPORT,
    JsonLines,
    Reply,
    pause,
    retryable,
    to_reply,
)

SCHOOL: dict[str, Any] = json.loads(Path(os.environ["LOAD_SCHOOL"]).read_text())
LOG_DIR = Path(os.environ["LOAD_LOG_DIR"])
TIMEOUT = float(os.environ.get("LOAD_TIMEOUT", "30"))
STEPS = [(int(u), float(s)) for u, s in (step.split(":") for step in os.environ["LOAD_STEPS"].split(","))]
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "20"))
MAX_ATTEMPTS = 3
REQUESTS = JsonLines(LOG_DIR / "requests.jsonl")
WRITES = JsonLines(LOG_DIR / "writes.jsonl")
NEXT_ACCOUNT = {role: itertools.count() for role in ("parent", "teacher", "admin")}
STATUSES = (["present"] * 90) + (["late"] * 4) + (["absent"] * 5) + ["left_early"]
QUESTIONS = (
    "How is my child's attendance this term?",
    "What are the latest grades?",
    "Is there anything left to pay?",
    "When are fees due?",
    "What time does school start?",
)


@events.request.add_listener
def log_request(
    request_type: str,
    name: str,
    response_time: float,
    response: Any = None,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    reply = to_reply(response) if response is not None else Reply(0, "other", None, {})
    kind = "invalid" if reply.kind == "ok" and exception is not None else reply.kind
    start = start_time or time.time() - response_time / 1000
    REQUESTS.write(
        t=round(start + response_time / 1000, 3),
        start=round(start, 3),
        name=f"{request_type} {name}",
        ms=round(response_time, 1),
        status=reply.status,
        kind=kind,
        retry_after=reply.header("Retry-After") is not None,
        problem=reply.header("Content-Type", "").startswith("application/problem+json"),
        **(context or {}),
    )


class StepShape(LoadTestShape):
    """LOAD_STEPS: each step's user count, held for its seconds; then the run ends."""

    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        for users, seconds in STEPS:
            if elapsed < seconds:
                return users, SPAWN_RATE
            elapsed -= seconds
        return None


class SchoolUser(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    role = ""

    def on_start(self) -> None:
        self.token = ""
        self.account = self.pick_account()
        self.signed_in()

    def pick_account(self) -> str:
        accounts: list[str] = SCHOOL[f"{self.role}s"]
        return accounts[next(NEXT_ACCOUNT[self.role]) % len(accounts)]

    def signed_in(self) -> bool:
        """Sign in unless signed in already (a few tries, waiting as told); False if it failed."""
        for _ in range(MAX_SIGN_INS if not self.token else 0):
            body = {"email": self.account, "password": SCHOOL["password"]}
            reply = self.call("POST", "/api/auth/login", json=body)
            if reply.ok:
                self.token = reply.body["access_token"]
                break
            self.pause(reply)
        return bool(self.token)

    def pause(self, reply: Reply) -> None:
        if pause(reply) >= KEEPALIVE_SECONDS - 1.5:
            self.client.close()  # its idle connection may be closing on the server's side right now

    def call(
        self,
        method: str,
        path: str,
        name: str | None = None,
        *,
        check: Callable[[Reply], str | None] | None = None,
        context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Reply:
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        with self.client.request(
            method,
            path,
            name=name or path,
            headers=headers,
            timeout=TIMEOUT,
            catch_response=True,
            context={"role": self.role, **(context or {})},
            **kwargs,
        ) as response:
            reply = to_reply(response)
            if reply.ok and check is not None and (problem := check(reply)):
                response.failure(problem)
                reply.kind = "invalid"
        if reply.status == 401:
            self.token = ""  # sign in again before the next action
        return reply

    def write(
        self,
        op: str,
        meta: dict[str, Any],
        send: Callable[[dict[str, Any]], Reply],
        result: Callable[[Reply], dict[str, Any]] | None = None,
        *,
        retry_lost: bool = True,
    ) -> Reply:
        """One write, retried as a careful client would (same body and key; after a 503/429 or a
        lost answer unless not `retry_lost`), logged before it is sent and with its outcome after."""
        write_id = uuid.uuid4().hex
        WRITES.write(ev="intent", w=write_id, t=time.time(), op=op, user=self.account, **meta)
        kinds: list[str] = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            reply = send({"write": write_id, "attempt": attempt, "op": op})
            kinds.append(reply.kind)
            if reply.ok or not retryable(reply, lost=retry_lost) or attempt == MAX_ATTEMPTS:
                break
            self.pause(reply)
        outcome = "ack" if reply.ok else "ambiguous" if TRANSPORT.intersection(kinds) else "refused"
        extra = result(reply) if reply.ok and result is not None else {}
        WRITES.write(ev="outcome", w=write_id, t=time.time(), outcome=outcome, kinds=kinds, **extra)
        return reply


class ParentUser(SchoolUser):
    weight = 6
    role = "parent"

    def on_start(self) -> None:
        self.children: list[str] = []
        super().on_start()

    def child(self) -> str | None:
        if not self.children:
            self.dashboard()
        return random.choice(self.children) if self.children else None

    @task(3)
    def dashboard(self) -> None:
        if self.signed_in() and (reply := self.call("GET", "/api/parent/dashboard")).ok:
            self.children = [entry["student"]["id"] for entry in reply.body["children"]]

    @task(2)
    def grades(self) -> None:
        if self.signed_in() and (child := self.child()):
            self.call("GET", f"/api/students/{child}/grades", "/api/students/{id}/grades")

    @task(2)
    def fees(self) -> None:
        if self.signed_in() and (child := self.child()):
            self.call("GET", f"/api/invoices?student_id={child}", "/api/invoices?student_id")
            self.call("GET", f"/api/students/{child}/balance", "/api/students/{id}/balance")

    @task(1)
    def ask(self) -> None:
        if self.signed_in() and (child := self.child()):
            question = {"message": random.choice(QUESTIONS), "student_id": child}
            self.call("POST", "/api/assistant/messages", json=question)


class TeacherUser(SchoolUser):
    """Each teacher user has a class of its own (the runner seeds one per teacher user): every
    register and grade it writes has no other writer."""

    weight = 2
    role = "teacher"

    def pick_account(self) -> str:
        number = next(NEXT_ACCOUNT["teacher"])
        teachers = SCHOOL["teachers"]
        self.mine: dict[str, Any] | None = teachers[number] if number < len(teachers) else None
        self.days = itertools.cycle(random.sample(SCHOOL["register_days"], len(SCHOOL["register_days"])))
        self.assessment: str | None = None
        return str(teachers[number % len(teachers)]["email"])

    @task(3)
    def take_register(self) -> None:
        if not (self.signed_in() and self.mine):
            return
        class_id, day = self.mine["class_id"], next(self.days)
        self.call("GET", f"/api/classes/{class_id}/attendance?date={day}", "/api/classes/{id}/attendance")
        marks = {student: random.choice(STATUSES) for student in self.mine["students"]}
        body = {"records": [{"student_id": s, "status": status} for s, status in marks.items()]}
        self.write(
            "attendance",
            {"class_id": class_id, "date": day, "marks": marks},
            lambda context: self.call(
                "PUT", f"/api/classes/{class_id}/attendance?date={day}", "/api/classes/{id}/attendance",
                json=body, context=context,
            ),
        )  # fmt: skip

    @task(2)
    def record_grades(self) -> None:
        if not (self.signed_in() and self.mine and (assessment := self.assessment or self.add_assessment())):
            return
        scores = {student: random.randint(0, 50) for student in random.sample(self.mine["students"], 10)}
        body = {
            "grades": [{"student_id": s, "status": "graded", "score": score} for s, score in scores.items()]
        }
        self.write(
            "grades",
            {"assessment_id": assessment, "scores": scores},
            lambda context: self.call(
                "PUT", f"/api/assessments/{assessment}/grades", "/api/assessments/{id}/grades",
                json=body, context=context,
            ),
        )  # fmt: skip

    def add_assessment(self) -> str | None:
        assert self.mine is not None
        key, class_id = uuid.uuid4().hex, self.mine["class_id"]
        body = {
            "title": f"load {key}",
            "category": "quiz",
            "max_score": 50,
            "due_on": date.today().isoformat(),
        }
        reply = self.write(
            "assessment",
            {"class_id": class_id, "title": body["title"], "key": key},
            lambda context: self.call(
                "POST", f"/api/classes/{class_id}/assessments", "/api/classes/{id}/assessments",
                json=body, headers={"Idempotency-Key": key}, context=context,
            ),
            lambda reply: {"assessment_id": reply.body["id"]},
        )  # fmt: skip
        self.assessment = reply.body["id"] if reply.ok else None
        return self.assessment


class AdminUser(SchoolUser):
    weight = 2
    role = "admin"

    def on_start(self) -> None:
        self.open_invoices: dict[str, int] = {}  # issued invoice id -> what is still owed
        super().on_start()

    @task(3)
    def list_students(self) -> None:
        if self.signed_in():
            self.call("GET", "/api/students?limit=50", "/api/students?limit=50")

    @task(2)
    def search_students(self) -> None:
        if self.signed_in():
            term = random.choice(SCHOOL["search_terms"])
            self.call("GET", f"/api/students?q={term}&limit=20", "/api/students?q")

    @task(1)
    def export_students(self) -> None:
        if self.signed_in():
            self.call("GET", "/api/exports/students", check=whole_csv)

    @task(3)
    def take_payment(self) -> None:
        if not self.signed_in() or not (self.open_invoices or self.add_invoice()):
            return
        invoice, owed = random.choice(list(self.open_invoices.items()))
        amount = owed if owed <= 1_000 or random.random() < 0.4 else random.randint(500, owed - 500)
        key = uuid.uuid4().hex
        body = {"amount_cents": amount, "method": "card", "reference": key}
        reply = self.write(
            "payment",
            {"invoice_id": invoice, "amount_cents": amount, "key": key},
            lambda context: self.call(
                "POST", f"/api/invoices/{invoice}/payments", "/api/invoices/{id}/payments",
                json=body, headers={"Idempotency-Key": key}, context=context,
            ),
            lambda reply: {"payment_id": reply.body["id"], "amount_cents": reply.body["amount_cents"]},
        )  # fmt: skip
        if reply.ok and owed > amount:
            self.open_invoices[invoice] = owed - amount
        else:  # paid off, or an unknown outcome: what is owed is no longer known
            self.open_invoices.pop(invoice)

    def add_invoice(self) -> bool:
        """Create and issue an invoice for a random student; True if it can be paid now."""
        key, number = uuid.uuid4().hex, f"L{uuid.uuid4().hex[:20]}"
        lines = [
            {"description": "Term fee", "category": "tuition", "amount_cents": random.randint(10, 90) * 1_000}
        ]
        body = {
            "student_id": random.choice(SCHOOL["students"]),
            "number": number,
            "due_date": (date.today() + timedelta(days=30)).isoformat(),
            "lines": lines,
        }
        created = self.write(
            "invoice",
            {
                "number": number,
                "student_id": body["student_id"],
                "total_cents": lines[0]["amount_cents"],
                "key": key,
            },
            lambda context: self.call(
                "POST", "/api/invoices", json=body, headers={"Idempotency-Key": key}, context=context
            ),
            lambda reply: {"invoice_id": reply.body["id"]},
        )
        if not created.ok:
            return False
        invoice = created.body["id"]
        issued = self.write(
            "issue",
            {"invoice_id": invoice},
            lambda context: self.call(
                "POST", f"/api/invoices/{invoice}/issue", "/api/invoices/{id}/issue", context=context
            ),
            retry_lost=False,  # a repeated issue is a 409: not a retry a client makes blindly
        )
        if issued.ok:
            self.open_invoices[invoice] = int(lines[0]["amount_cents"])
        return issued.ok


def whole_csv(reply: Reply) -> str | None:
    """An export must end with a line break and hold rows beyond its header (the school has
    students): a 200 with only the header is a silently truncated file."""
    text = reply.body if isinstance(reply.body, str) else ""
    if not text.endswith("\n") or text.count("\n") < 2:
        return f"truncated export ({len(text)} characters)"
    return None
