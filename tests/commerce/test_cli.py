"""`threadline commerce products import FILE` as a real process: a feed imports, a bad row
fails on one line and leaves nothing behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.test_cli import assert_one_error_line, migrated_db, run_cli, sqlite_url

FEED = (
    "id,title,availability,price,link\n"
    "MUG-1,Blue mug,in stock,12.50 EUR,https://shop.example/mug\n"
    "TEA-7,Green tea,out of stock,4.00 EUR,https://shop.example/tea\n"
)


def _products(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT retailer_id, name, availability FROM commerce_products ORDER BY retailer_id"
        ).fetchall()


def test_a_feed_imports_and_lists(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    migrated_db(db, "Shop")
    (tmp_path / "feed.csv").write_text(FEED)
    done = run_cli(
        ["commerce", "products", "import", "feed.csv", "-w", "Shop"], sqlite_url(db), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 created, 0 updated"
    assert _products(db) == [
        ("MUG-1", "Blue mug", "in_stock"),
        ("TEA-7", "Green tea", "out_of_stock"),
    ]
    listed = run_cli(["commerce", "products", "list", "-w", "Shop"], sqlite_url(db), cwd=tmp_path)
    assert "Blue mug" in listed.stdout and "12.5 EUR" in listed.stdout


def test_a_bad_row_fails_on_one_line_and_imports_nothing(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    migrated_db(db, "Shop")
    (tmp_path / "feed.csv").write_text(FEED + "CUP-2,Cup,in stock,free,https://shop.example/cup\n")
    done = run_cli(
        ["commerce", "products", "import", "feed.csv", "-w", "Shop"], sqlite_url(db), cwd=tmp_path
    )
    assert_one_error_line(done, "line 4", "price")
    assert _products(db) == []
