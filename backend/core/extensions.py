"""Extension objects, created unbound at import and bound to an app with `init_app`."""

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from flask_cors import CORS
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from backend.core.models import Base
from backend.core.session import RequestSession

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
