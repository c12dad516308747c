"""Create and drop the throw-away PostgreSQL database of ``make test-postgres``.

    python -m tests.pgdb create|drop|url ADMIN_URL NAME
"""

import re
import sys

import psycopg


def main(action: str, admin_url: str, name: str) -> None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"bad database name {name!r}")
    if action == "url":
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        print(f"{base}/{name}")
        return
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main(*sys.argv[1:4])
