"""Run every bench/bench_*.py in one go and print their figures; with --update-docs, also
write that output into docs/benchmarks.md between its `bench:start` and `bench:end` markers,
so the measured figures in the docs are the output of one run, not typed by hand."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def run(script: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{script.name} failed with exit code {done.returncode}")
    return done.stdout.strip()


def section(outputs: dict[str, str]) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0))
    lines = [
        START,
        f"Latest `make bench-docs` run: {stamp}, {cores} cores, "
        f"Python {platform.python_version()},",
        "SQLite unless a line says otherwise; one run, printed as the scripts print it.",
        "",
    ]
    for name, text in outputs.items():
        lines += [f"`{name}`", "", "```", text, "```", ""]
    lines.append(END)
    return "\n".join(lines)


def update_docs(generated: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + generated + after
    else:
        head, _, tail = text.partition("\n## ")
        text = f"{head}\n## Latest run\n\n{generated}\n\n## {tail}"
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update-docs", action="store_true", help="rewrite docs/benchmarks.md")
    args = parser.parse_args()
    outputs: dict[str, str] = {}
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        outputs[script.name] = run(script)
        print(outputs[script.name], flush=True)
    if args.update_docs:
        update_docs(section(outputs))
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
