"""`threadline flows validate | test | simulate | schema`, as a flow author uses them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from threadline.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "flows"
runner = CliRunner()

GOOD = """\
format: 1
flow: hello
name: Hello
triggers:
  - keyword: [hello]
start: greet
nodes:
  - id: greet
    type: say
    text: Hi!
    next: bye
  - id: bye
    type: end
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- validate


def test_validate_prints_problems_as_file_line_node_and_exits_1(tmp_path: Path) -> None:
    path = _write(tmp_path / "broken.yaml", GOOD.replace("next: bye", "next: byebye"))
    result = runner.invoke(app, ["flows", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:8: node greet: next: no node named byebye" in result.output.splitlines()
    assert result.output.splitlines()[-1] == "1 flow file(s) checked: 1 error(s), 0 warning(s)"


def test_validate_reports_format_errors_at_their_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "typo.yaml", GOOD.replace("    text: Hi!", "    txt: Hi!"))
    result = runner.invoke(app, ["flows", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:10: node greet: nodes.0.say.txt: Extra inputs are not permitted" in (
        result.output
    )


def test_validate_prints_warnings_and_still_passes(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "orphan.yaml", GOOD + "  - id: orphan\n    type: end\n    outcome: resolved\n"
    )
    result = runner.invoke(app, ["flows", "validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:14: node orphan: warning: never reached" in result.output
    assert "1 flow file(s) checked: 0 error(s), 1 warning(s)" in result.output


def test_validate_warns_about_choices_that_opt_the_person_out(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "remind.yaml",
        GOOD.replace(
            "    type: say\n    text: Hi!\n",
            "    type: ask\n    text: Coming?\n    choices:\n"
            "      - {id: going, title: Confirm}\n"
            "      - {id: not_going, title: Cancel, synonyms: [not coming, stop it]}\n",
        ),
    )
    result = runner.invoke(app, ["flows", "validate", str(path)])
    assert result.exit_code == 0, result.output
    prefix = f"{path}:8: node greet: warning: choice not_going:"
    assert f"{prefix} 'Cancel' opts the person out; reword it" in result.output
    assert f"{prefix} 'stop it' opts the person out; reword it" in result.output
    assert "0 error(s), 2 warning(s)" in result.output


def test_validate_a_directory_checks_flows_against_each_other(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", GOOD)
    (tmp_path / "more").mkdir()
    _write(tmp_path / "more" / "b.yaml", GOOD)  # same key, same keyword
    _write(tmp_path / "c.yaml", GOOD.replace("flow: hello", "flow: hello_too"))
    result = runner.invoke(app, ["flows", "validate", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'more' / 'b.yaml'}: flow hello is also defined in" in result.output
    assert "keyword 'hello' starts hello, hello_too at the same priority (0)" in result.output


def test_validate_refuses_what_is_not_a_flow(tmp_path: Path) -> None:
    test_file = EXAMPLES / "tests" / "support_triage.test.yaml"
    result = runner.invoke(app, ["flows", "validate", str(test_file)])
    assert result.exit_code == 1
    assert "a conversation test, not a flow" in result.output
    missing = runner.invoke(app, ["flows", "validate", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    assert "not found" in missing.output
    empty = runner.invoke(app, ["flows", "validate", str(tmp_path)])
    assert empty.exit_code == 1
    assert "no flow files" in empty.output


def test_validate_runs_as_a_command(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("threadline")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "threadline.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    done = subprocess.run(
        [*command, "flows", "validate", "hello.yaml"],
        capture_output=True,
        text=True,
        cwd=_write(tmp_path / "hello.yaml", GOOD).parent,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "ok hello.yaml (hello: 2 nodes)",
        "1 flow file(s) checked: 0 error(s), 0 warning(s)",
    ]


# ---------------------------------------------------------------- schema


def test_schema_command_matches_the_committed_schema() -> None:
    # Drift: after changing format.py, run `threadline flows schema -o docs/flow.schema.json`.
    result = runner.invoke(app, ["flows", "schema"])
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "docs" / "flow.schema.json").read_text(encoding="utf-8")


def test_schema_output_option_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    result = runner.invoke(app, ["flows", "schema", "--output", str(target)])
    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == runner.invoke(app, ["flows", "schema"]).stdout


# ---------------------------------------------------------------- simulate


def _simulate(*args: str, typed: str) -> str:
    result = runner.invoke(app, ["flows", "simulate", *args], input=typed)
    assert result.exit_code == 0, result.output
    return result.output


def test_simulate_taps_a_button_by_number_and_quits() -> None:
    output = _simulate(
        str(EXAMPLES / "support_triage.yaml"), "--contact-name", "Ana", typed="1\n/quit\n"
    )
    lines = output.splitlines()
    assert "bot Hi Ana! What can I help you with today?" in lines
    assert "     ☰ Topics" in lines
    assert "     [1] Shipping — Delivery times and costs" in lines
    assert "you 1" in lines
    assert "  · tapped Shipping" in lines
    assert "  · saved answers.topic = 'shipping'" in lines
    assert "  · shipping_info (say) → helpful (ask)" in lines
    assert any(line.startswith("bot We ship within 1 business day.") for line in lines)
    assert "     [2] No, I need help" in lines
    assert lines[-1] == "— left waiting"


def test_simulate_on_sms_shows_numbered_options_and_fires_timeouts() -> None:
    output = _simulate(
        "lead_qualification",
        "--dir",
        str(EXAMPLES),
        "--channel",
        "sms",
        typed="2\n/timeout\n",
    )
    assert "1. A new website\n2. A mobile app" in output
    assert "Reply with a number." in output
    assert "  · saved answers.need = 'app'" in output
    assert "  · time passes: ask_budget reached its deadline" in output
    assert "  · ended: abandoned (timeout)" in output
    assert output.splitlines()[-1] == "— ended: abandoned"


def test_simulate_with_webhook_stubs_fields_and_the_agent(tmp_path: Path) -> None:
    stubs = _write(
        tmp_path / "stubs.yaml",
        'webhooks:\n  "GET https://shop.example/orders/*":\n'
        "    {json: {status: delayed, eta: Friday}}\n",
    )
    output = _simulate(
        str(EXAMPLES / "order_status.yaml"),
        "--webhooks",
        str(stubs),
        "--param",
        "shop_url=https://shop.example",
        "--field",
        "order_id=1001",
        typed="#1001\n2\nhello?\n/handback\n",
    )
    assert "  · webhook GET https://shop.example/orders/1001 → HTTP 200" in output
    assert "  · set fields order_id=1001" in output
    assert "The new estimate is Friday." in output
    assert "  · ticket opened for team support: Order #1001: status delayed, ETA Friday" in output
    assert "  · an agent holds the conversation: the bot stays silent" in output
    assert "  · ended: handed_off (agent_resolved)" in output


def test_simulate_without_stubs_calls_the_webhook_for_real(tmp_path: Path) -> None:
    # Nothing listens on port 9 (discard): the call fails fast and the flow takes on_failure.
    output = _simulate(
        str(EXAMPLES / "order_status.yaml"),
        "--trigger",
        "event",
        "--param",
        "shop_url=http://127.0.0.1:9",
        "--param",
        "event.order_id=1001",
        typed="/quit\n",
    )
    assert "  · calling GET http://127.0.0.1:9/orders/1001 (timeout 5s)" in output
    assert "Sorry, I couldn't find order #1001 just now." in output


def test_simulate_commands_that_do_not_apply_say_so() -> None:
    output = _simulate(
        str(EXAMPLES / "appointment.yaml"), typed="/handback\n/frobnicate\n/help\n/close\n"
    )
    assert "no agent holds the conversation (status waiting)" in output
    assert "unknown command /frobnicate" in output
    assert "/timeout · /handback · /close (as the agent) · /quit" in output


def test_simulate_reports_an_unknown_flow() -> None:
    result = runner.invoke(
        app, ["flows", "simulate", "no_such_flow", "--dir", str(EXAMPLES)], input=""
    )
    assert result.exit_code == 1
    assert f"no_such_flow: no such file; as a flow key not found under {EXAMPLES}" in (
        result.output
    )
