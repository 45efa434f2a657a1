"""Extension objects, created unbound at import and bound to an app with `init_app`."""

from collections.abc import Callable
from typing import Any

import structlog
from flask import Flask, current_app
from flask_cors import CORS
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import SQLAlchemyError

from backend.core.models import Base
from backend.core.session import RequestSession

log = structlog.get_logger("homeroom.db")

db = SQLAlchemy(model_class=Base, session_options={"class_": RequestSession})
migrate = Migrate()
cors = CORS()
# The rate limiter is made per app by backend.core.ratelimit.init_rate_limits (see why there).

# The factory that made the running app (`backend.app.create_app` puts itself here), for the
# commands that need a second app on another database (the backup drill) without importing it.
APP_FACTORY = "homeroom.app_factory"


def another_app(settings: Any) -> Flask:
    """An application like the current one, on `settings`, made by the same factory."""
    factory: Callable[[Any], Flask] | None = current_app.extensions.get(APP_FACTORY)
    if factory is None:
        raise RuntimeError("This app was not made by backend.create_app, which registers itself.")
    return factory(settings)


def end_sessions_quietly(app: Flask) -> None:
    """End each app context's session without letting a dead connection turn a finished request
    into a 500: the connection can drop (a reset network path) between the response and the
    session's closing ROLLBACK, which Flask-SQLAlchemy's own teardown would raise. The broken
    session is dropped and logged; the pool replaces the connection. (Teardowns run last-registered
    first, so this one runs before Flask-SQLAlchemy's, which then finds nothing to close.)"""

    @app.teardown_appcontext
    def _remove(_error: BaseException | None) -> None:
        try:
            db.session.remove()
        except SQLAlchemyError as error:
            log.warning("session_close_failed", error_type=type(error).__name__)
            db.session.registry.clear()
