"""Gunicorn settings for the bare Flask reference: Homeroom's, without its hooks and worker class."""

from gunicorn_config import (  # noqa: F401 - Gunicorn reads these names
    bind,
    keepalive,
    max_requests,
    max_requests_jitter,
    preload_app,
    threads,
    timeout,
    workers,
)

worker_class = "gthread"
errorlog = "-"
loglevel = "warning"
control_socket_disable = True
