"""Run every bench/bench_*.py in one go and print their figures: each on SQLite, then on
PostgreSQL when one is reachable (a fresh database per script). With --update-docs, write
docs/benchmarks.md from bench/benchmarks.template.md and that output, so every figure in
the docs is one run's output and none is typed by hand."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
TEMPLATE = ROOT / "bench" / "benchmarks.template.md"
# The server the PostgreSQL pass creates its databases on (trust auth on the dev machine).
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def run(script: Path, database_url: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "BENCH_DATABASE_URL"}
    if database_url:
        env["BENCH_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{script.name} failed with exit code {done.returncode}")
    return done.stdout.strip()


async def fresh_database(name: str) -> str | None:
    """A new empty PostgreSQL database for one script, or None when none is reachable."""
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


def goals(outputs: dict[str, str]) -> list[str]:
    """Every `goal:` line of the run, named by script and database."""
    return [
        f"| {key} | {line.strip().removeprefix('goal: ').rsplit(': ', 1)[0]} | "
        f"{line.strip().rsplit(': ', 1)[1]} |"
        for key, text in outputs.items()
        for line in text.splitlines()
        if line.strip().startswith("goal: ")
    ]


def document(outputs: dict[str, str]) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0))
    header = (
        f"One `make bench-docs` run, {stamp}: {cores} cores, Python "
        f"{platform.python_version()}; every script on SQLite, then on PostgreSQL when one "
        "was reachable."
    )
    table = ["| script | goal | result |", "| --- | --- | --- |", *goals(outputs)]
    runs: list[str] = []
    for key, text in outputs.items():
        runs += [f"### `{key}`", "", "```", text, "```", ""]
    return (
        TEMPLATE.read_text(encoding="utf-8")
        .replace("{{run}}", header)
        .replace("{{goals}}", "\n".join(table))
        .replace("{{outputs}}", "\n".join(runs).rstrip())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update-docs", action="store_true", help="rewrite docs/benchmarks.md")
    parser.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL pass")
    args = parser.parse_args()
    outputs: dict[str, str] = {}
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        passes: list[tuple[str, str | None]] = [("SQLite", None)]
        if not args.sqlite_only:
            url = asyncio.run(fresh_database(f"threadline_{script.stem}"))
            if url is None:
                print(f"== {script.name}: PostgreSQL not reachable at {ADMIN_DSN}; SQLite only")
            else:
                passes.append(("PostgreSQL", url))
        for database, url in passes:
            key = f"{script.name}, {database}"
            print(f"== {key}", flush=True)
            outputs[key] = run(script, url)
            print(outputs[key], flush=True)
    if args.update_docs:
        DOC.write_text(document(outputs) + "\n", encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
