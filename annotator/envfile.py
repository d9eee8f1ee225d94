"""Write the local .env the quick start needs: a generated secret key, once. Runs before Django loads.

python -m annotator.envfile [path]
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent / ".env"


def ensure_env_file(path: Path = DEFAULT_PATH) -> bool:
    """Create the file with a new DJANGO_SECRET_KEY unless it exists. Returns whether it was created."""
    if path.exists():
        return False
    key = secrets.token_urlsafe(50)  # URL-safe: no '$' or quotes for the .env parser to interpret
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    path.write_text(
        f"# Written by `make run` on {stamp}. Local settings for this checkout: git ignores this file.\n"
        f"# Every variable is described in .env.example.\n"
        f"DJANGO_SECRET_KEY={key}\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    if ensure_env_file(target):
        print(f"Wrote {target} with a new secret key.")
