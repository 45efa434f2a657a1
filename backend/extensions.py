"""Extension objects, created unbound at import and bound to an app with `init_app`."""

from flask_cors import CORS
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from backend.core.models import Base
from backend.core.session import RequestSession

db = SQLAlchemy(model_class=Base, session_options={"class_": RequestSession})
migrate = Migrate()
cors = CORS()
# The rate limiter is made per app by backend.core.ratelimit.init_rate_limits (see why there).
