"""Reading flow files: every problem names the file, the line and the node; subflows are
inlined from the files beside a flow; catalogs load from YAML and CSV."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from threadline.flows import format as f
from threadline.flows.loader import (
    Bundle,
    Flow,
    FlowError,
    Problem,
    bundle_from_path,
    compile_bundle,
    flow_files,
    load_path,
)

HEAD = "format: 1\nflow: test\nname: Test flow\n"


def flow_text(body: str) -> str:
    return HEAD + textwrap.dedent(body).lstrip("\n")


def compile_text(text: str, **bundle: Any) -> Flow:
    return compile_bundle(Bundle(main=text, **bundle))


def problems(text: str, **bundle: Any) -> list[Problem]:
    with pytest.raises(FlowError) as caught:
        compile_text(text, **bundle)
    assert str(caught.value) == "\n".join(map(str, caught.value.problems))
    return caught.value.problems


def line_of(text: str, marker: str) -> int:
    """The 1-based line of the only line holding marker."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(found) == 1, (marker, found)
    return found[0]


def only_problem(text: str, **bundle: Any) -> Problem:
    [problem] = problems(text, **bundle)
    return problem


# ---------------------------------------------------------------- format errors


def test_a_bad_timeout_names_the_file_line_and_node() -> None:
    text = flow_text(
        """
        start: greet
        nodes:
          - {id: greet, type: say, text: Hello, next: email}
          - id: email
            type: ask
            text: Your email?
            expect: email
            timeout: soon
            next: done
          - {id: done, type: end}
        """
    )
    problem = only_problem(text)
    assert problem.file == "flow.yaml"
    assert problem.line == line_of(text, "timeout: soon")
    assert problem.node == "email"
    assert "timeout" in problem.message and "a duration like 30s" in problem.message
    assert str(problem).startswith(f"flow.yaml:{problem.line}: node email: ")


def test_the_origin_given_is_the_file_named() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, next: b}
          - {id: b, type: end}
        """
    )
    problem = only_problem(text, origin="flows/welcome.yaml")
    assert (problem.file, problem.node) == ("flows/welcome.yaml", "a")
    assert problem.line == line_of(text, "id: a,")
    assert "say needs text or media" in problem.message


def test_every_bad_node_is_reported_at_once() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, text: Hi, next: b}
          - {id: b, type: wait, next: c}
          - {id: Bad-Id, type: end}
          - id: c
            type: webhook
            url: https://x.example
            timeout: 60s
            next: a
            on_failure: a
        """
    )
    found = problems(text)
    by_node = {p.node: p for p in found}
    assert set(by_node) == {"b", "Bad-Id", "c"}
    assert by_node["b"].line == line_of(text, "type: wait")
    assert by_node["Bad-Id"].line == line_of(text, "Bad-Id")
    assert by_node["c"].line == line_of(text, "id: c")
    assert "between 1s and 30s" in by_node["c"].message


def test_unknown_next_target_is_named() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, text: Hi, next: b}
          - id: b
            type: ask
            text: Pick
            choices:
              - {id: x, title: X, next: nowhere}
            next: c
          - {id: c, type: end}
        """
    )
    problem = only_problem(text)
    assert problem.node == "b" and problem.line == line_of(text, "id: b")
    assert problem.message == "choices.next: no node named nowhere"


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ("{id: a, type: say, text: Hi, next: gone}", "next: no node named gone"),
        ("{id: a, type: goto, target: gone}", "target: no node named gone"),
        (
            "{id: a, type: branch, cases: [{when: {tag: x}, next: z}], default: gone}",
            "default: no node named gone",
        ),
        (
            "{id: a, type: ask, text: Q, timeout: 1m, on_timeout: gone, next: z}",
            "on_timeout: no node named gone",
        ),
        (
            "{id: a, type: webhook, url: 'https://x', on_failure: gone, next: z}",
            "on_failure: no node named gone",
        ),
    ],
)
def test_every_kind_of_reference_is_checked(node: str, message: str) -> None:
    text = flow_text(
        f"""
        start: a
        nodes:
          - {node}
          - {{id: z, type: end}}
        """
    )
    problem = only_problem(text)
    assert (problem.node, problem.message) == ("a", message)
    assert problem.line == line_of(text, "id: a")


def test_unknown_start_is_reported() -> None:
    text = flow_text(
        """
        start: begin
        nodes:
          - {id: a, type: end}
        """
    )
    assert only_problem(text).message == "start: no node named begin"


def test_duplicate_ids_are_reported_at_the_second() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, text: one, next: b}
          - {id: b, type: end}
          - {id: a, type: say, text: two, next: b}
        """
    )
    problem = only_problem(text)
    assert (problem.node, problem.message) == ("a", "duplicate node id")
    assert problem.line == line_of(text, "text: two")


@pytest.mark.parametrize(
    "ask",
    [
        "{id: q, type: ask, text: 'Your name?'}",
        "{id: q, type: ask, text: 'Your email?', expect: email, save_as: email}",
        "{id: q, type: ask, text: Pick, choices: [{id: a, title: A, next: z}, {id: b, title: B}]}",
    ],
)
def test_an_ask_needs_next_unless_every_choice_has_one(ask: str) -> None:
    text = flow_text(
        f"""
        start: q
        nodes:
          - {ask}
          - {{id: z, type: end}}
        """
    )
    problem = only_problem(text)
    assert (problem.node, problem.message) == ("q", "ask needs next")
    assert problem.line == line_of(text, "id: q")


def test_an_ask_whose_choices_all_lead_somewhere_needs_no_next() -> None:
    text = flow_text(
        """
        start: q
        nodes:
          - {id: q, type: ask, text: Pick, choices: [{id: a, title: A, next: z}]}
          - {id: z, type: end}
        """
    )
    assert compile_text(text).nodes["q"].next is None


@pytest.mark.parametrize("kind", ["say", "set", "csat"])
def test_nodes_that_move_on_need_next(kind: str) -> None:
    node = {"say": "type: say, text: Hi", "set": "type: set", "csat": "type: csat"}[kind]
    text = flow_text(
        f"""
        start: a
        nodes:
          - {{id: a, {node}}}
        """
    )
    assert only_problem(text).message == f"{kind} needs next"


def test_a_loop_without_a_wait_is_rejected() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, text: Hi, next: b}
          - id: b
            type: branch
            cases: [{when: {tag: vip}, next: c}]
            default: done
          - {id: c, type: set, score: 1, next: back}
          - {id: back, type: goto, target: a}
          - {id: done, type: end}
        """
    )
    problem = only_problem(text)
    assert problem.message == "loop without a wait: a -> b -> c -> back -> a"
    assert (problem.node, problem.line) == ("a", line_of(text, "id: a,"))


def test_a_loop_through_a_question_is_fine() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, text: Hi, next: q}
          - {id: q, type: ask, text: "Again?", expect: yes_no, save_as: again, next: b}
          - id: b
            type: branch
            cases: [{when: {answer: again, equals: true}, next: a}]
            default: done
          - {id: done, type: end}
        """
    )
    assert compile_text(text).warnings == ()


def test_a_recommend_whose_empty_result_loops_back_is_a_loop_even_with_save_as() -> None:
    text = flow_text(
        """
        catalog: products.yaml
        start: pick
        nodes:
          - id: pick
            type: recommend
            text: Which one?
            tags_any: ["{{answers.tag}}"]
            save_as: product
            on_empty: pick
            next: done
          - {id: done, type: end}
        """
    )
    problem = only_problem(text, catalog=[{"id": "p1", "title": "Shoe"}])
    assert problem.message == "loop without a wait: pick -> pick"


def test_a_recommend_picked_from_may_lead_back() -> None:
    text = flow_text(
        """
        start: pick
        nodes:
          - id: pick
            type: recommend
            text: Which one?
            save_as: product
            on_empty: done
            next: pick
          - {id: done, type: end}
        """
    )
    assert compile_text(text, catalog=[{"id": "p1", "title": "Shoe"}]).start == "pick"


def test_not_yaml_names_the_line() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, text: "Hi, next: b}
          - {id: b, type: end}
        """
    )
    problem = only_problem(text)
    assert problem.message.startswith("not valid YAML")
    assert problem.line is not None and problem.line >= line_of(text, "id: a")
    assert problem.node is None


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "hello"])
def test_a_flow_file_is_a_mapping(text: str) -> None:
    problem = only_problem(text)
    assert (problem.line, problem.message) == (1, "a flow file is a YAML mapping")


def test_a_missing_format_version_is_reported() -> None:
    problem = only_problem("flow: test\nname: T\nstart: a\nnodes:\n  - {id: a, type: end}\n")
    assert problem.message.startswith("format:")


def test_a_trigger_with_two_kinds_is_reported_at_its_line() -> None:
    text = flow_text(
        """
        triggers:
          - keyword: [hi, hello]
          - keyword: [price]
            first_inbound: true
        start: a
        nodes:
          - {id: a, type: end}
        """
    )
    problem = only_problem(text)
    assert problem.line == line_of(text, "keyword: [price]")
    assert problem.node is None
    assert "a trigger is exactly one of keyword" in problem.message
    assert problem.message.startswith("triggers.1")


def test_a_condition_with_two_subjects_is_reported_at_its_line_and_node() -> None:
    text = flow_text(
        """
        start: route
        nodes:
          - id: route
            type: branch
            cases:
              - when: {tag: vip}
                next: done
              - when: {tag: vip, channel: sms}
                next: done
            default: done
          - {id: done, type: end}
        """
    )
    problem = only_problem(text)
    assert problem.node == "route"
    assert problem.line == line_of(text, "channel: sms")
    assert "a condition tests exactly one of" in problem.message


def test_a_condition_on_an_answer_needs_a_test() -> None:
    text = flow_text(
        """
        start: route
        nodes:
          - {id: route, type: branch, cases: [{when: {answer: plan}, next: done}], default: done}
          - {id: done, type: end}
        """
    )
    assert "need equals, in, gte, lte, contains or exists" in only_problem(text).message


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        ("{id: q, type: ask, text: Q, expect: choice, next: z}", "expect: choice needs choices"),
        (
            "{id: q, type: ask, text: Q, expect: email, choices: [{id: a, title: A}], next: z}",
            "choices only go with expect: choice (not email)",
        ),
        ("{id: q, type: ask, text: Q, min: 1, next: z}", "min/max only go with expect: number"),
        (
            "{id: q, type: ask, text: Q, choices: [{id: a, title: A}, {id: a, title: B}], next: z}",
            "choice ids must be unique",
        ),
    ],
)
def test_ask_expectations_are_checked(ask: str, message: str) -> None:
    text = flow_text(
        f"""
        start: q
        nodes:
          - {ask}
          - {{id: z, type: end}}
        """
    )
    problem = only_problem(text)
    assert problem.node == "q" and message in problem.message


# ---------------------------------------------------------------- warnings


def test_unreachable_nodes_are_warnings_with_their_line() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: say, text: Hi, next: done}
          - {id: orphan, type: say, text: Nobody sees me, next: done}
          - {id: island, type: end}
          - {id: done, type: end}
        """
    )
    flow = compile_text(text)
    assert [(w.node, w.line, w.message) for w in flow.warnings] == [
        ("orphan", line_of(text, "id: orphan"), "never reached"),
        ("island", line_of(text, "id: island"), "never reached"),
    ]
    assert "orphan" in flow.nodes  # still compiled


# ---------------------------------------------------------------- subflows

DETAILS = """\
format: 1
flow: details
name: Contact details
start: ask_email
nodes:
  - {id: ask_email, type: ask, text: "Email?", expect: email, save_as: email, next: phone}
  - {id: phone, type: subflow, flow: phone_number, next: thanks}
  - {id: thanks, type: end, text: Thanks}
"""
PHONE = """\
format: 1
flow: phone_number
name: Phone
start: ask_phone
nodes:
  - {id: ask_phone, type: ask, text: "Phone?", expect: phone, save_as: phone, next: ok}
  - {id: ok, type: end}
"""
MAIN = """\
format: 1
flow: main
name: Main
catalog: catalog.yaml
start: hello
nodes:
  - {id: hello, type: say, text: Hi, next: collect}
  - {id: collect, type: subflow, flow: details, next: pick}
  - {id: pick, type: recommend, text: "Pick one", on_empty: bye, next: bye}
  - {id: bye, type: end}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_subflows_are_found_beside_the_flow_by_their_key(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", MAIN)
    write(tmp_path, "contact-details.yml", DETAILS)  # the file name does not matter
    write(tmp_path, "phone.yaml", PHONE)
    write(tmp_path, "other.yaml", PHONE.replace("phone_number", "unused"))
    write(tmp_path, "conversation-test.yaml", "steps: [hi]\n")  # not a flow
    write(tmp_path, "catalog.yaml", "products:\n  - {id: p1, title: Sofa, price: 499}\n")
    bundle = bundle_from_path(main)
    assert sorted(bundle.subflows) == ["details", "phone_number"]
    assert bundle.origin == str(main)
    flow = compile_bundle(bundle)
    # inlined under the calling node's id, nested subflows under both
    collect = flow.nodes["collect"]
    assert isinstance(collect, f.Goto) and collect.target == "collect.ask_email"
    assert flow.nodes["collect.ask_email"].next == "collect.phone"
    assert isinstance(flow.nodes["collect.phone"], f.Goto)
    assert "collect.phone.ask_phone" in flow.nodes
    # a subflow's end returns to its caller's next; a said end is kept as a say
    ok = flow.nodes["collect.phone.ok"]
    assert isinstance(ok, f.Goto) and ok.target == "collect.thanks"
    thanks = flow.nodes["collect.thanks"]
    assert isinstance(thanks, f.Say) and (thanks.text, thanks.next) == ("Thanks", "pick")
    assert [p.id for p in flow.catalog] == ["p1"]
    assert load_path(main).nodes.keys() == flow.nodes.keys()


def test_a_bundle_round_trips_through_json(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", MAIN)
    write(tmp_path, "details.yaml", DETAILS)
    write(tmp_path, "phone.yaml", PHONE)
    write(tmp_path, "catalog.yaml", "- {id: p1, title: Sofa}\n")
    bundle = bundle_from_path(main)
    again = Bundle.from_json(bundle.to_json())
    assert again == bundle
    assert compile_bundle(again).nodes.keys() == compile_bundle(bundle).nodes.keys()


def test_a_missing_subflow_is_named_with_its_node_and_line() -> None:
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: subflow, flow: details, next: b}
          - {id: b, type: end}
        """
    )
    problem = only_problem(text)
    assert (problem.file, problem.node) == ("flow.yaml", "a")
    assert problem.message == "subflow details not found beside it"
    assert problem.line == line_of(text, "id: a")


def test_a_flow_calling_itself_is_rejected() -> None:
    text = flow_text(
        """
        start: again
        nodes:
          - {id: again, type: subflow, flow: test, next: b}
          - {id: b, type: end}
        """
    )
    problem = only_problem(text, subflows={"test": text})
    assert (problem.node, problem.message) == ("again", "subflow test calls itself")


def test_subflows_calling_each_other_are_rejected_in_the_file_that_closes_the_circle() -> None:
    ping = DETAILS.replace("phone_number", "pong").replace("flow: details", "flow: ping")
    pong = PHONE.replace(
        "  - {id: ok, type: end}", "  - {id: ok, type: subflow, flow: ping}"
    ).replace("flow: phone_number", "flow: pong")
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: subflow, flow: ping}
        """
    )
    problem = only_problem(text, subflows={"ping": ping, "pong": pong})
    assert (problem.file, problem.node) == ("pong.yaml", "ok")
    assert problem.line == line_of(pong, "id: ok")
    assert problem.message == "subflow ping calls itself"


def test_problems_inside_a_subflow_name_the_subflow_file() -> None:
    broken = DETAILS.replace("next: thanks", "next: nowhere")
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: subflow, flow: details, next: b}
          - {id: b, type: end}
        """
    )
    found = problems(text, subflows={"details": broken, "phone_number": PHONE})
    assert [(p.file, p.node, p.message) for p in found] == [
        ("details.yaml", "phone", "next: no node named nowhere")
    ]
    assert found[0].line == line_of(broken, "id: phone")


def test_a_subflow_that_is_not_valid_is_reported_before_inlining() -> None:
    broken = DETAILS.replace("timeout", "x").replace("expect: email", "expect: mail")
    text = flow_text(
        """
        start: a
        nodes:
          - {id: a, type: subflow, flow: details, next: b}
          - {id: b, type: end}
        """
    )
    problem = only_problem(text, subflows={"details": broken, "phone_number": PHONE})
    assert (problem.file, problem.node) == ("details.yaml", "ask_email")
    assert problem.line == line_of(broken, "id: ask_email")


def test_flow_files_finds_flows_only(tmp_path: Path) -> None:
    write(tmp_path, "main.yaml", MAIN)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "details.yml", DETAILS)
    write(tmp_path, "catalog.yaml", "- {id: p1, title: Sofa}\n")
    write(tmp_path, "notes.txt", "flow: nope\n")
    assert flow_files(tmp_path) == [tmp_path / "main.yaml", tmp_path / "sub" / "details.yml"]
    assert flow_files(tmp_path / "main.yaml") == [tmp_path / "main.yaml"]


# ---------------------------------------------------------------- catalogs

SHOP = """\
format: 1
flow: shop
name: Shop
catalog: {catalog}
start: pick
nodes:
  - {{id: pick, type: recommend, text: "Pick", on_empty: bye, next: bye}}
  - {{id: bye, type: end}}
"""


def test_catalog_from_yaml_with_a_products_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products.yaml",
        textwrap.dedent(
            """
            products:
              - id: sofa-1
                title: Sofa
                price: 499.5
                currency: EUR
                tags: [living, big]
                attributes: {color: grey}
              - {id: lamp-2, title: Lamp}
            """
        ),
    )
    flow = load_path(write(tmp_path, "shop.yaml", SHOP.format(catalog="products.yaml")))
    sofa, lamp = flow.catalog
    assert sofa == f.Product(
        id="sofa-1",
        title="Sofa",
        price=499.5,
        currency="EUR",
        tags=["living", "big"],
        attributes={"color": "grey"},
    )
    assert (lamp.id, lamp.price, lamp.currency, lamp.tags) == ("lamp-2", None, "USD", [])


def test_catalog_from_csv(tmp_path: Path) -> None:
    write(
        tmp_path,
        "products.csv",
        "id,title,price,currency,tags,attr_color,attr_size,image,extra\n"
        "sofa-1,Sofa,499.50,EUR,living | big,grey,,https://img/sofa.jpg,ignored\n"
        "lamp-2,Lamp,,,,,S,,\n",
    )
    flow = load_path(write(tmp_path, "shop.yaml", SHOP.format(catalog="products.csv")))
    sofa, lamp = flow.catalog
    assert sofa == f.Product(
        id="sofa-1",
        title="Sofa",
        price=499.5,
        currency="EUR",
        image="https://img/sofa.jpg",
        tags=["living", "big"],
        attributes={"color": "grey"},
    )
    assert lamp == f.Product(id="lamp-2", title="Lamp", attributes={"size": "S"})


def test_catalog_from_json(tmp_path: Path) -> None:
    write(tmp_path, "products.json", '[{"id": "p1", "title": "Sofa", "price": 10}]')
    flow = load_path(write(tmp_path, "shop.yaml", SHOP.format(catalog="products.json")))
    assert [(p.id, p.price) for p in flow.catalog] == [("p1", 10.0)]


def test_a_missing_catalog_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "shop.yaml", SHOP.format(catalog="missing.csv"))
    with pytest.raises(FlowError) as caught:
        bundle_from_path(path)
    [problem] = caught.value.problems
    assert problem.file == str(path) and problem.message == "catalog missing.csv not found"


def test_a_catalog_that_is_not_a_list_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "products.yaml", "products: nope\n")
    with pytest.raises(FlowError) as caught:
        load_path(write(tmp_path, "shop.yaml", SHOP.format(catalog="products.yaml")))
    assert caught.value.problems[0].message == "a catalog is a list of products"


def test_a_bad_product_is_reported_against_the_catalog() -> None:
    text = SHOP.format(catalog="products.yaml")
    problem = only_problem(text, catalog=[{"id": "p1", "title": "Sofa", "price": "cheap"}])
    assert problem.file == "products.yaml"
    assert "price" in problem.message


def test_recommend_needs_a_catalog() -> None:
    problem = only_problem(SHOP.format(catalog="products.yaml"))
    assert problem.message == "recommend nodes need a catalog"
