"""Write .env from .env.example with freshly generated secrets; never overwrite an existing .env.

Used by start_production.sh and start_production.ps1 on a first run. Every line of the result is
valid as it stands: a variable left empty in .env.example is written commented out (`# NAME=`),
unset, because not every reader takes an empty value for "unset" (prometheus_client does not).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_EMPTY_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=[ \t]*$", re.MULTILINE)


def fresh_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # a Fernet key
    }


def env_text(template: str, values: dict[str, str]) -> str:
    """`template` with `values` assigned and every empty assignment commented out."""
    for name, value in values.items():
        template = re.sub(rf"^{name}=.*$", f"{name}={value}", template, flags=re.MULTILINE)
    return _EMPTY_ASSIGNMENT.sub(r"# \1=", template)


def main() -> int:
    target, template = ROOT / ".env", ROOT / ".env.example"
    if target.exists():
        sys.stderr.write(".env exists; it is left as it is\n")
        return 1
    target.write_text(env_text(template.read_text(), fresh_secrets()))
    target.chmod(0o600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
