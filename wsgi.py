"""WSGI entry point for Gunicorn (`wsgi:application`) and the Flask CLI (`flask --app wsgi ...`)."""

from backend import create_app
from backend.config import exit_on_config_error

with exit_on_config_error():
    application = create_app()
