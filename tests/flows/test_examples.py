"""The example flows validate, their conversation tests pass, and a conversation test that
fails says which test, which step, what was expected and what the bot said instead."""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.flows import format as f
from threadline.flows.loader import Flow, load_path
from threadline.flows.state import CallWebhook
from threadline.flows.testing import (
    Stubs,
    StubSpec,
    conversation_files,
    flow_key,
    flow_paths,
    run_dir,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"
FLOWS = flow_paths(EXAMPLES)
# The contact fields the demo workspace declares; examples may use no others.
DECLARED_FIELDS = {
    "lead_score",
    "need",
    "budget",
    "timing",
    "email",
    "company",
    "appointment_date",
    "appointment_slot",
    "order_id",
    "favourite_category",
}
runner = CliRunner()


@functools.cache
def _load(path: Path) -> Flow:
    return load_path(path)  # compiling reads every file beside it: once per module


def _copy(name: str, into: Path) -> Path:
    shutil.copy(EXAMPLES / name, into / name)
    return into / name


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the examples


def test_the_examples_are_all_there() -> None:
    assert {flow_key(p) for p in FLOWS} == {
        "support_triage",
        "lead_qualification",
        "product_finder",
        "order_status",
        "appointment",
        "appointment_reminder",
        "pick_slot",
        "abandoned_cart",
        "re_engagement",
        "post_purchase_csat",
    }


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_each_example_validates_without_warnings(path: Path) -> None:
    assert _load(path).warnings == ()


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_examples_use_only_the_declared_contact_fields(path: Path) -> None:
    flow = _load(path)
    written = {k for n in flow.nodes.values() if isinstance(n, f.SetNode) for k in n.fields}
    read = set(re.findall(r"\{\{\s*contact\.(\w+)", path.read_text(encoding="utf-8")))
    assert written | (read - {"name"}) <= DECLARED_FIELDS


def test_every_triggered_example_has_conversation_tests() -> None:
    tested = {flow_key(p) for p in conversation_files(EXAMPLES)}
    triggered = {flow_key(p) for p in FLOWS if _load(p).file.triggers}
    assert triggered <= tested


def test_validate_accepts_the_examples_and_skips_tests_and_catalogs() -> None:
    result = runner.invoke(app, ["flows", "validate", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert f"{len(FLOWS)} flow file(s) checked: 0 error(s), 0 warning(s)" in result.output
    assert "tests" not in result.output
    assert "catalog.yaml" not in result.output


def test_the_examples_conversation_tests_pass() -> None:
    result = runner.invoke(app, ["flows", "test", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    summary = result.output.splitlines()[-1]
    found = re.fullmatch(r"(\d+) passed, 0 failed \((\d+) test file\(s\)\)", summary)
    assert found is not None, summary
    assert int(found.group(1)) >= 40
    assert int(found.group(2)) == len(conversation_files(EXAMPLES))


# ---------------------------------------------------------------- failing tests read well


def test_a_failing_conversation_test_exits_1_and_says_what_went_wrong(tmp_path: Path) -> None:
    _copy("support_triage.yaml", tmp_path)
    _write(
        tmp_path / "broken.test.yaml",
        """\
flow: support_triage
contact: {name: Ana}
tests:
  - name: still passes
    steps:
      - user: shipping
      - expect: {says: "business days"}
  - name: expects the wrong answer
    steps:
      - user: {tap: payment}
      - expect: {says: "we ship tomorrow", node: helpful}
""",
    )
    result = runner.invoke(app, ["flows", "test", str(tmp_path)])
    assert result.exit_code == 1
    output = result.output
    assert "PASS  still passes" in output
    assert "FAIL  expects the wrong answer" in output
    assert 'step 2 (line 11): expected the bot to say "we ship tomorrow"' in output
    assert "| We take Visa, Mastercard, Amex and PayPal." in output  # what it said instead
    assert "1 passed, 1 failed" in output


def test_several_unmet_expectations_are_listed_one_per_line(tmp_path: Path) -> None:
    _copy("lead_qualification.yaml", tmp_path)
    _write(
        tmp_path / "t.yaml",
        """\
flow: lead_qualification
tests:
  - name: wrong guesses
    steps:
      - user: website
      - expect: {buttons: [Yes, No], field: {need: website}, tags: [lead], score: 10}
""",
    )
    [result] = run_dir(tmp_path).results
    assert result.failure is not None
    message = str(result.failure)
    assert "step 2 (line 6): expected:\n" in message
    assert '- buttons ["Yes", "No"] (shown: none)' in message
    assert "- field need = 'website' (it is None)" in message
    assert '- tags ["lead"] (tags: [])' in message
    assert "- score 10 (it is 0)" in message
    assert "(now at node ask_budget, status waiting)" in message


def test_an_unstubbed_webhook_fails_naming_the_url(tmp_path: Path) -> None:
    _copy("order_status.yaml", tmp_path)
    _write(
        tmp_path / "t.yaml",
        """\
flow: order_status
webhooks:
  "GET https://elsewhere.example/*": {json: {}}
tests:
  - name: no stub for the shop
    steps:
      - user: "1001"
""",
    )
    [result] = run_dir(tmp_path).results
    assert result.failure is not None
    assert str(result.failure) == (
        "step 1 (line 7): the flow called GET http://127.0.0.1:8900/_emulator/shop/orders/1001,"
        " and no webhook stub matches it"
    )


def test_a_tap_on_something_not_offered_lists_what_was(tmp_path: Path) -> None:
    _copy("appointment.yaml", tmp_path)
    _copy("pick_slot.yaml", tmp_path)
    _write(
        tmp_path / "t.yaml",
        """\
flow: appointment
tests:
  - name: taps a massage
    steps:
      - user: {tap: massage}
""",
    )
    [result] = run_dir(tmp_path).results
    assert result.failure is not None
    assert "tap massage: the last buttons or rows offered were haircut (Haircut)" in str(
        result.failure
    )


def test_a_test_file_that_cannot_run_is_reported_with_its_reason(tmp_path: Path) -> None:
    _write(
        tmp_path / "unknown.test.yaml",
        "flow: nowhere\ntests: [{name: x, steps: [{wait: timeout}]}]\n",
    )
    _write(
        tmp_path / "malformed.test.yaml",
        "flow: nowhere\ntests:\n  - name: x\n    steps:\n      - expect: {sayz: hi}\n",
    )
    report = run_dir(tmp_path)
    assert not report.ok
    broken = {path.name: message for path, message in report.broken}
    assert broken["unknown.test.yaml"].startswith("no flow file with `flow: nowhere` under")
    assert (
        "line 5: tests.0.steps.0.expect.sayz: Extra inputs are not permitted"
        in (broken["malformed.test.yaml"])
    )
    result = runner.invoke(app, ["flows", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "ERROR no flow file with `flow: nowhere`" in result.output


def test_no_conversation_tests_at_all_is_a_failure(tmp_path: Path) -> None:
    result = runner.invoke(app, ["flows", "test", str(tmp_path)])
    assert result.exit_code == 1
    assert "no conversation tests found" in result.output


def test_an_invalid_flow_under_test_is_reported(tmp_path: Path) -> None:
    _write(
        tmp_path / "bad.yaml",
        "format: 1\nflow: bad\nname: Bad\nstart: a\nnodes:\n  - {id: a, type: goto, target: b}\n",
    )
    _write(tmp_path / "t.yaml", "flow: bad\ntests: [{name: x, steps: [{wait: timeout}]}]\n")
    [(_, message)] = run_dir(tmp_path).broken
    assert message.startswith("the flow does not validate:")
    assert "node a: target: no node named b" in message


# ---------------------------------------------------------------- stubs


def _call(method: str, url: str) -> CallWebhook:
    return CallWebhook(node="n", method=method, url=url, headers={}, body=None, timeout_seconds=5)


def test_stubs_match_method_and_url_globs_in_order() -> None:
    stubs = Stubs.of(
        {
            "GET https://shop.example/orders/1*": StubSpec(status=200),
            "https://shop.example/orders/*": StubSpec(status=404),  # any method
            "POST https://crm.example/leads": StubSpec(error="timeout"),
        }
    )
    assert stubs.match(_call("GET", "https://shop.example/orders/123")) == StubSpec(status=200)
    assert stubs.match(_call("PUT", "https://shop.example/orders/123")) == StubSpec(status=404)
    assert stubs.match(_call("GET", "https://shop.example/orders/9")) == StubSpec(status=404)
    timeout = stubs.match(_call("POST", "https://crm.example/leads"))
    assert timeout is not None and timeout.answer().status is None
    assert stubs.match(_call("GET", "https://crm.example/leads")) is None


def test_a_stub_file_may_be_a_conversation_test_file(tmp_path: Path) -> None:
    stubs = Stubs.load(EXAMPLES / "tests" / "order_status.test.yaml")
    found = stubs.match(_call("GET", "https://shop.example/api/orders/1002"))
    assert found is not None and found.json_ == {"status": "delivered", "eta": "2026-02-27"}
    plain = _write(tmp_path / "stubs.yaml", '"GET https://x.example/*": {status: 503}\n')
    assert Stubs.load(plain).match(_call("GET", "https://x.example/a")) == StubSpec(status=503)
