"""Workers that open one fresh PostgreSQL database at the same moment: how many die?

Starts 3 processes at once on a fresh database, ``--repeats`` times, each either creating the study with
plain ``optuna.create_study(storage=url, load_if_exists=True)`` (what the zoo does) or with
:func:`sb3_hlgauss.zoo.tuning.open_storage` + :func:`~sb3_hlgauss.zoo.tuning.create_or_load_study` (what our
entry point does), and counts the processes that exit with an error (docs/zoo.md, issue 14).

    eval "$(bash scripts/postgres.sh start)"     # $SB3_HLGAUSS_TEST_PG_URL: a role with CREATEDB
    python -m benchmarks.storage_race --repeats 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import urllib.parse
import uuid

CODE = {
    "plain": (
        "import optuna, sys; optuna.logging.set_verbosity(optuna.logging.ERROR); "
        "optuna.create_study(storage=sys.argv[1], study_name='s', load_if_exists=True)"
    ),
    "sb3_hlgauss": (
        "import optuna, sys; from sb3_hlgauss.zoo import tuning; optuna.logging.set_verbosity(optuna.logging.ERROR); "
        "tuning.create_or_load_study(tuning.open_storage(sys.argv[1]), 's', optuna.samplers.RandomSampler(), "
        "optuna.pruners.NopPruner())"
    ),
}


def race(admin_url: str, mode: str, workers: int) -> list[str]:
    """The last error line of each worker that failed."""
    import psycopg

    name = f"race_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(admin_url)
    url = f"postgresql://{parts.username}@{parts.hostname}:{parts.port}/{name}"
    env = {**os.environ, "PGPASSWORD": urllib.parse.unquote(parts.password or "")}
    try:
        processes = [
            subprocess.Popen([sys.executable, "-c", CODE[mode], url], stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(workers)
        ]
        errors = []
        for process in processes:
            _, err = process.communicate()
            if process.returncode:
                lines = [line for line in err.splitlines() if "Error" in line] or err.splitlines()[-1:]
                errors.append(lines[-1][:200])
        return errors
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    admin_url = os.environ.get("SB3_HLGAUSS_TEST_PG_URL")
    if not admin_url:
        sys.exit('set SB3_HLGAUSS_TEST_PG_URL (eval "$(bash scripts/postgres.sh start)")')
    for mode in CODE:
        errors = [error for _ in range(args.repeats) for error in race(admin_url, mode, args.workers)]
        print(f"{mode}: {len(errors)} of {args.repeats * args.workers} workers failed" + (f"; e.g. {errors[0]}" if errors else ""))


if __name__ == "__main__":
    main()
