"""CSV import: rows per second through `threadline contacts import` (a real process, SQLite),
all rows validated first and written in one transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("BENCH_ROWS", "5000"))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "THREADLINE_DATABASE_URL": f"sqlite:///{folder}/import.db"}
        cli = [sys.executable, "-m", "threadline.cli"]
        subprocess.run(
            [*cli, "init", "--workspace", "Bench"], env=env, check=True, capture_output=True
        )
        csv = Path(folder) / "contacts.csv"
        lines = [
            "name,phone,email,tags,consent_topic,consent_channels,consent_text,consent_version"
        ]
        for n in range(ROWS):
            lines.append(
                f"Person {n},+5511{900000000 + n},p{n}@example.com,vip;new,marketing,"
                f"whatsapp,Offers on WhatsApp,v1"
            )
        csv.write_text("\n".join(lines) + "\n")
        start = time.perf_counter()
        subprocess.run(
            [*cli, "contacts", "import", str(csv), "--workspace", "Bench"],
            env=env,
            check=True,
            capture_output=True,
        )
        elapsed = time.perf_counter() - start
    print(
        f"imported {ROWS} rows (3 addresses, 2 tags, 1 opt-in each) in {elapsed:.1f} s: "
        f"{ROWS / elapsed:,.0f} rows/s, including process start-up"
    )


if __name__ == "__main__":
    main()
