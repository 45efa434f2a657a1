"""Announcements: a school addresses its community (the whole school, staff, parents, a class, a
year group, the guardians of chosen students) with sanitised Markdown, now or at a time, and sees
who has read it; urgent ones are emailed."""

from __future__ import annotations

from flask import Blueprint, Flask

from backend.announcements.markdown import render
from backend.announcements.models import Announcement, AnnouncementAudience, Recipient
from backend.announcements.publishing import publish
from backend.config import Settings

__all__ = ["Announcement", "AnnouncementAudience", "Recipient", "init_app", "publish", "render"]

bp = Blueprint("announcements", __name__, url_prefix="/api")


def init_app(app: Flask, settings: Settings) -> None:
    from backend import jobs
    from backend.announcements import routes  # noqa: F401  (registers the views)
    from backend.announcements.publishing import EMAIL_JOB, JOB_KIND, run_scheduled, send_emails

    app.register_blueprint(bp)
    jobs.register_handler(app, JOB_KIND, run_scheduled)
    jobs.register_handler(app, EMAIL_JOB, send_emails)
