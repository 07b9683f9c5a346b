"""`threadline templates lint`: one line per finding, a summary, exit 1 on errors only."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from threadline.templates.cli import templates_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "templates"
BAD = EXAMPLES / "bad" / "promo_as_utility.yaml"
runner = CliRunner()

WARNING_ONLY = """\
name: order_ready
category: UTILITY
language: en_US
components:
  body:
    text: "Your order is ready. Free shipping on your next one."
"""


def lint(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(templates_app, ["lint", *args])
    return result.exit_code, result.output.splitlines()


def test_clean_examples_exit_0() -> None:
    paths = [str(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    code, lines = lint(*paths, "--require-opt-out")
    assert code == 0
    assert lines == ["4 templates in 4 files: 0 errors, 0 warnings"]


def test_errors_exit_1_with_file_line_template_and_rule() -> None:
    code, lines = lint(str(BAD))
    assert code == 1
    assert lines[0] == (
        f"{BAD}:3: template Weekend_Deals: [error] name-format: "
        "name 'Weekend_Deals' must be 1-512 lowercase letters, digits or _"
    )
    assert f"{BAD}:8: template Weekend_Deals: [warning] category-promotional: reads as " in (
        "\n".join(lines)
    )
    assert lines[-1] == "1 template in 1 file: 7 errors, 1 warning"


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(WARNING_ONLY, encoding="utf-8")
    code, lines = lint(str(path))
    assert code == 0
    assert lines[0].startswith(f"{path}:6: template order_ready: [warning] category-promotional:")
    assert lines[-1] == "1 template in 1 file: 0 errors, 1 warning"


def test_require_opt_out(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "name: news\ncategory: MARKETING\nlanguage: en_US\n"
        "components:\n  body: {text: Our autumn range is in the shop this week.}\n",
        encoding="utf-8",
    )
    assert lint(str(path))[0] == 0
    code, lines = lint(str(path), "--require-opt-out")
    assert code == 1
    assert lines[0].startswith(f"{path}:5: template news: [error] marketing-opt-out:")


def test_invalid_and_unreadable_files_are_one_line_each(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ncategory: UTILITY\n  language: [\n", encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    code, lines = lint(str(broken), str(missing))
    assert code == 1
    assert lines[0].startswith(f"{broken}:3: not valid YAML: ")
    assert lines[1] == f"{missing}: cannot read: No such file or directory"
    assert (
        lines[-1]
        == "0 templates in 2 files: 0 errors, 0 warnings, 2 files not readable as templates"
    )
    assert len(lines) == 3


def test_a_directory_is_searched(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "t.yml").write_text(WARNING_ONLY, encoding="utf-8")
    code, lines = lint(str(tmp_path))
    assert code == 0 and lines[-1] == "1 template in 1 file: 0 errors, 1 warning"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, lines = lint(str(empty))
    assert code == 1 and lines == [f"{empty}: no template files (*.yaml, *.yml)"]


def test_the_threadline_command_has_it() -> None:
    from threadline.cli import app

    result = runner.invoke(app, ["templates", "lint", str(BAD)])
    assert result.exit_code == 1
    assert "[error] variables-adjacent:" in result.output
