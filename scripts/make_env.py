"""Write .env from .env.example with freshly generated secrets; never overwrite an existing .env.

Used by start_production.sh and start_production.ps1 on a first run.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # a Fernet key
    }


def main() -> int:
    target, template = ROOT / ".env", ROOT / ".env.example"
    if target.exists():
        sys.stderr.write(".env exists; it is left as it is\n")
        return 1
    text = template.read_text()
    for name, value in fresh_secrets().items():
        text = re.sub(rf"^{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
    target.write_text(text)
    target.chmod(0o600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
