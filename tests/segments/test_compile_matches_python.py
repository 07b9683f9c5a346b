"""The SQL a segment compiles to selects exactly the contacts the plain-Python reference
(`segments/evaluate.py`) says it matches, on SQLite and PostgreSQL: for random populations
stored as real rows (contacts with tags, addresses, custom fields, events and conversations,
and a second workspace whose contacts must never come back) and random queries over every
construct of the language, with literals taken from the population so they hit and miss.

Times in the population sit 17 seconds off a whole minute before or after now, and relative
times in the queries are whole minutes, so no generated time falls exactly on a boundary; the
boundaries themselves (the window includes its first instant, `now` counts, a second later
does not) are pinned by the examples below."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.conftest import T0
from threadline.channels.kinds import Channel
from threadline.channels.registry import urn_scheme_for
from threadline.contacts.models import (
    Contact,
    ContactEvent,
    ContactTag,
    ContactURN,
    FieldDefinition,
)
from threadline.conversations.models import Conversation
from threadline.kit.ids import new_id
from threadline.segments import syntax as s
from threadline.segments.compile import compile_query
from threadline.segments.evaluate import Event, Person, matches
from threadline.workspaces.models import Workspace

pytestmark = pytest.mark.db

NOW = T0
WORKSPACE = "wsp_segments_a"
OTHER = "wsp_segments_b"  # same kind of contacts; none of them may ever match
FIELDS = {"city": "text", "age": "number", "vip": "boolean", "renewal": "date"}
NAMES = ["Ana", "ana", "Bruno", "Zoë", ""]
LANGUAGES = ["pt", "pt-BR", "en", "es"]
TIMEZONES = ["Europe/Lisbon", "America/Sao_Paulo", "UTC"]
TAGS = ["vip", "Vip", "churn-risk", "beta"]
INTERESTS = ["shoes", "Shoes", "bags", "running"]
KINDS = ["purchase", "cart_updated", "order_status"]
CHANNELS = [c.value for c in Channel]
SCHEMES = sorted({urn_scheme_for(c) for c in Channel})
MISS = "nobody-has-this"
DAY = 24 * 60  # minutes
ROUND_SPANS = [60, DAY, 7 * DAY, 30 * DAY, 90 * DAY, 365 * DAY]  # minutes
OPS = list(s.Op)
EQUALITY = [s.Op.EQ, s.Op.NE]


# -- the population ------------------------------------------------------------------------


def minutes_before(k: int) -> datetime:
    """k whole minutes and 17 seconds before now: never on a whole-minute boundary."""
    return NOW - timedelta(minutes=k, seconds=17)


def minutes_after(k: int) -> datetime:
    return NOW + timedelta(minutes=k, seconds=17)


minutes = st.one_of(st.integers(0, 180), st.integers(0, 3 * DAY), st.integers(0, 200 * DAY))
past = minutes.map(minutes_before)
future = st.integers(0, 2 * DAY).map(minutes_after)
recent = st.integers(0, 3 * DAY).map(minutes_before)
cents = st.integers(-2_000, 50_000).map(lambda c: Decimal(c).scaleb(-2))
# Tenths and cents a binary float cannot hold: their sums are where exactness shows.
inexact = st.sampled_from([Decimal(v) for v in ("0.1", "0.2", "0.7", "1.10", "2.20", "19.99")])
event_values = st.one_of(st.none(), cents, inexact)
event_kinds = st.sampled_from([KINDS[0], *KINDS])  # purchases twice as often: several add up
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "city": st.sampled_from(["Lisbon", "lisbon", "Porto", "São Paulo", ""]),
    "age": st.one_of(st.integers(0, 99), st.sampled_from([17.5, 30.25, 0.1, -3])),
    "vip": st.booleans(),
    "renewal": st.dates(date(2025, 1, 1), date(2027, 12, 31)).map(date.isoformat),
}


@dataclass(frozen=True)
class Seed:
    """One contact: the facts the reference sees, and the rows they come from."""

    person: Person
    urns: tuple[str, ...]  # one scheme per address row (a scheme may have two addresses)
    inbound: tuple[tuple[str, datetime | None], ...]  # (channel, last_inbound_at) per conversation


@st.composite
def custom_fields(draw: st.DrawFn) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, strategy in FIELD_VALUES.items():
        state = draw(st.sampled_from(["absent", "null", "set", "set"]))
        if state == "null":
            values[key] = None  # as created with `"age": null`: no value
        elif state == "set":
            values[key] = draw(strategy)
    return values


@st.composite
def seeds(draw: st.DrawFn, contact_id: str) -> Seed:
    urns = tuple(draw(st.lists(st.sampled_from(SCHEMES), max_size=3)))
    inbound = tuple(
        draw(
            st.lists(
                st.tuples(st.sampled_from(CHANNELS), st.one_of(st.none(), past, past, future)),
                max_size=3,
                unique_by=lambda c: c[0],
            )
        )
    )
    events: list[Event] = draw(
        st.lists(
            st.tuples(event_kinds, event_values, st.one_of(past, recent, recent, future)),
            max_size=8,
        )
    )
    person = Person(
        id=contact_id,
        name=draw(st.sampled_from(NAMES)),
        language=draw(st.one_of(st.none(), st.sampled_from(LANGUAGES))),
        timezone=draw(st.one_of(st.none(), st.sampled_from(TIMEZONES))),
        fields=draw(custom_fields()),
        interests=tuple(draw(st.lists(st.sampled_from(INTERESTS), max_size=3, unique=True))),
        tags=draw(st.frozensets(st.sampled_from(TAGS), max_size=3)),
        schemes=frozenset(urns),
        holdout_bucket=draw(st.integers(0, 9999)),
        created_at=draw(past),
        events=tuple(events),
        last_inbound=max((at for _, at in inbound if at is not None), default=None),
    )
    return Seed(person=person, urns=urns, inbound=inbound)


@dataclass(frozen=True)
class Population:
    ours: tuple[Seed, ...]
    theirs: tuple[Seed, ...]  # in the other workspace

    @property
    def people(self) -> list[Person]:
        return [seed.person for seed in (*self.ours, *self.theirs)]


@st.composite
def populations(draw: st.DrawFn) -> Population:
    ours = draw(st.integers(0, 25))
    theirs = draw(st.integers(1, 4))
    return Population(
        ours=tuple(draw(seeds(f"con_a{n:02d}")) for n in range(ours)),
        theirs=tuple(draw(seeds(f"con_b{n:02d}")) for n in range(theirs)),
    )


# -- the queries ---------------------------------------------------------------------------


def spans(times: Iterable[datetime | None]) -> st.SearchStrategy[timedelta]:
    """Whole-minute spans on either side of the given past times, and some round ones."""
    found = set(ROUND_SPANS)
    for at in times:
        if at is not None and at <= NOW:
            before = (NOW - at) // timedelta(minutes=1)
            found |= {before, before + 1}
    return st.sampled_from(sorted(found)).map(lambda m: timedelta(minutes=m))


def pool(values: Iterable[Any], *extra: Any) -> list[Any]:
    return sorted({v for v in values if v is not None} | set(extra), key=repr)


@st.composite
def text_compares(draw: st.DrawFn, people: Sequence[Person]) -> s.Node:
    column = draw(st.sampled_from([s.Builtin.NAME, s.Builtin.LANGUAGE, s.Builtin.TIMEZONE]))
    values = pool((getattr(p, column.value) for p in people), MISS, "")
    return s.Compare(column, draw(st.sampled_from(EQUALITY)), draw(st.sampled_from(values)))


@st.composite
def created_compares(draw: st.DrawFn, people: Sequence[Person]) -> s.Node:
    span = draw(spans(p.created_at for p in people))
    return s.Compare(s.Builtin.CREATED_AT, draw(st.sampled_from(OPS)), s.Ago(span))


@st.composite
def field_compares(draw: st.DrawFn, people: Sequence[Person]) -> s.Node:
    key = draw(st.sampled_from(sorted(FIELDS)))
    stored = [p.fields.get(key) for p in people]
    value: s.Value
    if FIELDS[key] == "number":
        near = [Decimal(str(v)) + d for v in pool(stored) for d in (-1, 0, 0, 1)]
        literal = st.one_of(st.sampled_from(pool(near, Decimal(0))), st.integers(-5, 120))
        value = Decimal(draw(literal))
        op = draw(st.sampled_from(OPS))
    elif FIELDS[key] == "boolean":
        value, op = draw(st.booleans()), draw(st.sampled_from(EQUALITY))
    elif FIELDS[key] == "date":
        dates = st.dates(date(2025, 1, 1), date(2027, 12, 31)).map(date.isoformat)
        value = draw(st.one_of(st.sampled_from(pool(stored, "2026-03-10")), dates))
        op = draw(st.sampled_from(OPS))
    else:
        value = draw(st.sampled_from(pool(stored, MISS, "")))
        op = draw(st.sampled_from(EQUALITY))
    return s.Compare(key, op, value)


@st.composite
def buckets(draw: st.DrawFn, people: Sequence[Person]) -> s.Node:
    near = [p.holdout_bucket + d for p in people for d in (-1, 0, 1)]
    value = draw(st.sampled_from(pool(near, 0, 1000, 5000, 9999)))
    return s.Bucket(draw(st.sampled_from(OPS)), value)


def happened(person: Person, kind: str, window: timedelta | None) -> list[Event]:
    """Roughly the events a condition looks at: only to pick literals that hit."""
    return [
        e
        for e in person.events
        if e[0] == kind and e[2] <= NOW and (window is None or e[2] >= NOW - window)
    ]


@st.composite
def event_conditions(draw: st.DrawFn, people: Sequence[Person]) -> s.Node:
    kind = draw(st.sampled_from([*KINDS, "appointment_booked"]))  # nobody has the last
    aggregate = draw(st.sampled_from(list(s.Aggregate)))
    op = draw(st.sampled_from(OPS))
    times = [e[2] for p in people for e in p.events if e[0] == kind]
    if aggregate is s.Aggregate.LAST:
        return s.EventCondition(kind, aggregate, None, op, s.Ago(draw(spans(times))))
    window = draw(st.one_of(st.none(), spans(times)))
    seen = [happened(p, kind, window) for p in people]
    value: Decimal
    if aggregate is s.Aggregate.COUNT:
        counts = [Decimal(len(events)) for events in seen]
        value = draw(st.sampled_from(pool(counts, Decimal(0), Decimal(1), Decimal("1.5"))))
    else:
        added = [[e[1] for e in events if e[1] is not None] for events in seen]
        sums = [sum(values, Decimal(0)) for values in added]
        several = [sum(values, Decimal(0)) for values in added if len(values) > 1]
        literals = pool([*sums, *(v for values in added for v in values)], Decimal(0))
        value = draw(st.sampled_from(pool(several) or literals) | st.sampled_from(literals))
    return s.EventCondition(kind, aggregate, window, op, value)


@st.composite
def last_inbounds(draw: st.DrawFn, people: Sequence[Person]) -> s.Node:
    span = draw(spans(p.last_inbound for p in people))
    return s.LastInbound(draw(st.sampled_from(OPS)), s.Ago(span))


def queries(people: Sequence[Person]) -> st.SearchStrategy[s.Node]:
    leaves: st.SearchStrategy[s.Node] = st.one_of(
        st.just(s.Everyone()),
        st.sampled_from([*TAGS, MISS]).map(s.HasTag),
        st.sampled_from([*INTERESTS, MISS]).map(s.HasInterest),
        st.sampled_from(CHANNELS).map(s.Reachable),
        text_compares(people),
        created_compares(people),
        field_compares(people),
        field_compares(people),
        buckets(people),
        event_conditions(people),
        event_conditions(people),
        event_conditions(people),
        last_inbounds(people),
    )

    def branches(children: st.SearchStrategy[s.Node]) -> st.SearchStrategy[s.Node]:
        several = st.lists(children, min_size=1, max_size=3).map(tuple)
        return st.one_of(children.map(s.Not), several.map(s.And), several.map(s.Or))

    return st.recursive(leaves, branches, max_leaves=6)


@dataclass(frozen=True)
class Scenario:
    population: Population
    queries: tuple[s.Node, ...]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    population = draw(populations())
    asked = draw(st.lists(queries(population.people), min_size=1, max_size=8))
    return Scenario(population, tuple(asked))


# -- rows ----------------------------------------------------------------------------------


def rows(workspace_id: str, population: Iterable[Seed]) -> list[Any]:
    found: list[Any] = [
        Workspace(
            id=workspace_id,
            workspace_id=workspace_id,
            name=f"Segments {workspace_id}",
            settings={},
            created_at=T0,
        )
    ]
    for key, value_type in FIELDS.items():
        found.append(
            FieldDefinition(
                id=new_id("fld"),
                workspace_id=workspace_id,
                key=key,
                label=key.title(),
                value_type=value_type,
                created_at=T0,
            )
        )
    for seed in population:
        p = seed.person
        found.append(
            Contact(
                id=p.id,
                workspace_id=workspace_id,
                name=p.name,
                language=p.language,
                timezone=p.timezone,
                fields=dict(p.fields),
                interests=list(p.interests),
                holdout_bucket=p.holdout_bucket,
                created_at=p.created_at,
                updated_at=p.created_at,
            )
        )
    for seed in population:
        p, scope = seed.person, {"workspace_id": workspace_id, "contact_id": seed.person.id}
        found += [ContactTag(id=new_id("tag"), tag=tag, **scope) for tag in sorted(p.tags)]
        found += [
            ContactURN(
                id=new_id("urn"), scheme=scheme, urn=f"{scheme}:{p.id}.{n}", created_at=T0, **scope
            )
            for n, scheme in enumerate(seed.urns)
        ]
        found += [
            ContactEvent(
                id=new_id("evt"),
                kind=kind,
                value=value,
                properties={},
                idempotency_key=new_id("idem"),
                occurred_at=at,
                created_at=T0,
                **scope,
            )
            for kind, value, at in p.events
        ]
        found += [
            Conversation(
                id=new_id("cnv"),
                channel=channel,
                last_inbound_at=at,
                created_at=T0,
                updated_at=T0,
                **scope,
            )
            for channel, at in seed.inbound
        ]
    return found


async def store(sessions: async_sessionmaker[AsyncSession], population: Population) -> None:
    everything = rows(WORKSPACE, population.ours) + rows(OTHER, population.theirs)
    async with sessions() as session, session.begin():
        for parents in (Workspace, Contact):  # before the rows that point at them
            session.add_all(row for row in everything if isinstance(row, parents))
            await session.flush()
        session.add_all(row for row in everything if not isinstance(row, Workspace | Contact))


async def clear(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        for model in (
            ContactEvent,
            Conversation,
            ContactTag,
            ContactURN,
            Contact,
            FieldDefinition,
            Workspace,
        ):
            await session.execute(delete(model).where(model.workspace_id.in_([WORKSPACE, OTHER])))


async def selected(
    sessions: async_sessionmaker[AsyncSession], dialect: str, query: s.Node
) -> list[str]:
    statement = compile_query(
        query, workspace_id=WORKSPACE, now=NOW, dialect=dialect, fields=FIELDS
    )
    async with sessions() as session:
        return list((await session.scalars(statement)).all())


def expected(population: Population, query: s.Node) -> set[str]:
    return {
        seed.person.id
        for seed in population.ours
        if matches(query, seed.person, now=NOW, fields=FIELDS)
    }


async def check(
    sessions: async_sessionmaker[AsyncSession], dialect: str, scenario: Scenario
) -> None:
    await store(sessions, scenario.population)
    ours = scenario.population.ours
    try:
        for query in scenario.queries:
            got = await selected(sessions, dialect, query)
            want = expected(scenario.population, query)
            assert len(got) == len(set(got)), f"{query}: a contact selected twice: {sorted(got)}"
            wrong = {
                seed.person.id: seed
                for seed in (*scenario.population.ours, *scenario.population.theirs)
                if seed.person.id in set(got) ^ want
            }
            share = "none" if not want else "all" if len(want) == len(ours) else "some"
            event(f"selects {share} of the workspace's contacts")
            assert set(got) == want, (
                f"{query}\nSQL only: {sorted(set(got) - want)}\n"
                f"Python only: {sorted(want - set(got))}\n"
                + "\n".join(f"{id_}: {seed}" for id_, seed in sorted(wrong.items()))
            )
    finally:
        await clear(sessions)


# -- the property --------------------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(scenario=scenarios())
async def test_the_sql_selects_whom_the_python_reference_matches(
    scenario: Scenario, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    note(f"{len(scenario.population.ours)} contacts, {len(scenario.queries)} queries")
    await check(sessions, engine.dialect.name, scenario)


# -- the boundaries, by example ------------------------------------------------------------


def person(contact_id: str, **facts: Any) -> Person:
    return Person(id=contact_id, **{"created_at": NOW - timedelta(days=400), **facts})


def seed_of(person: Person, *, inbound: Sequence[tuple[str, datetime | None]] = ()) -> Seed:
    """The rows for `person`: an address per scheme, the given conversations."""
    latest = max((at for _, at in inbound if at is not None), default=None)
    return Seed(
        person=replace(person, last_inbound=latest),
        urns=tuple(sorted(person.schemes)),
        inbound=tuple(inbound),
    )


async def both(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    population: Population,
    cases: Sequence[tuple[s.Node, set[str]]],
) -> None:
    """Each query selects exactly the given contacts, in SQL and in the reference."""
    await store(sessions, population)
    try:
        for query, wanted in cases:
            assert expected(population, query) == wanted, f"Python: {query}"
            assert sorted(await selected(sessions, engine.dialect.name, query)) == sorted(wanted), (
                f"SQL: {query}"
            )
    finally:
        await clear(sessions)


def count(kind: str, window: timedelta | None, op: s.Op, n: str) -> s.EventCondition:
    return s.EventCondition(kind, s.Aggregate.COUNT, window, op, Decimal(n))


def total(kind: str, window: timedelta | None, op: s.Op, n: str) -> s.EventCondition:
    return s.EventCondition(kind, s.Aggregate.SUM, window, op, Decimal(n))


def last(kind: str, op: s.Op, span: timedelta) -> s.EventCondition:
    return s.EventCondition(kind, s.Aggregate.LAST, None, op, s.Ago(span))


async def test_a_window_includes_its_first_instant_and_the_future_never_counts(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    month, second = timedelta(days=30), timedelta(seconds=1)
    edge = person(
        "con_edge",
        created_at=NOW - month,
        events=(
            ("purchase", Decimal("10.00"), NOW - month),  # the window's first instant: in
            ("purchase", Decimal("100.00"), NOW - month - second),  # a second before: out
            ("purchase", Decimal("1.00"), NOW),  # now: in
            ("purchase", Decimal("1000.00"), NOW + second),  # a second from now: never
        ),
    )
    future_only = person(
        "con_future", events=(("purchase", Decimal("5.00"), NOW + timedelta(days=1)),)
    )
    population = Population(ours=(seed_of(edge), seed_of(future_only)), theirs=())
    await both(
        sessions,
        engine,
        population,
        [
            (count("purchase", month, s.Op.EQ, "2"), {"con_edge"}),
            (total("purchase", month, s.Op.EQ, "11"), {"con_edge"}),
            (count("purchase", None, s.Op.EQ, "3"), {"con_edge"}),
            (total("purchase", None, s.Op.EQ, "111"), {"con_edge"}),
            (count("purchase", None, s.Op.EQ, "0"), {"con_future"}),
            (total("purchase", month, s.Op.EQ, "0"), {"con_future"}),
            (last("purchase", s.Op.GE, timedelta(0)), {"con_edge"}),  # the latest is now
            (last("purchase", s.Op.GT, timedelta(0)), set()),  # not a second from now
            (last("purchase", s.Op.LT, second), set()),
            # created_at compares with now - span the same way: equal is equal
            (s.Compare(s.Builtin.CREATED_AT, s.Op.GE, s.Ago(month)), {"con_edge"}),
            (s.Compare(s.Builtin.CREATED_AT, s.Op.GT, s.Ago(month)), set()),
        ],
    )


async def test_a_missing_value_never_compares_not_even_unequal_and_not_of_it_matches(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    lisbon = person("con_lisbon", language="pt", fields={"city": "Lisbon", "age": 30})
    porto = person("con_porto", language="en", fields={"city": "Porto", "age": 41.5})
    unset = person("con_unset")  # no language, no fields, no events, never wrote
    cleared = person("con_null", fields={"city": None, "age": None, "vip": None})
    wrote = person("con_wrote", language="pt")
    population = Population(
        ours=(
            seed_of(lisbon, inbound=[("whatsapp", NOW - timedelta(days=2))]),
            seed_of(porto, inbound=[("sms", None)]),  # a conversation, no inbound yet
            seed_of(unset),
            seed_of(cleared),
            seed_of(
                wrote,
                inbound=[("sms", NOW - timedelta(days=20)), ("email", NOW - timedelta(hours=1))],
            ),
        ),
        theirs=(),
    )
    everyone = {p.person.id for p in population.ours}
    city_is_lisbon = s.Compare("city", s.Op.EQ, "Lisbon")
    week = timedelta(days=7)
    await both(
        sessions,
        engine,
        population,
        [
            (s.Compare("city", s.Op.NE, "Lisbon"), {"con_porto"}),
            (s.Not(city_is_lisbon), everyone - {"con_lisbon"}),
            (s.Compare("age", s.Op.NE, Decimal(30)), {"con_porto"}),
            (s.Compare("age", s.Op.GT, Decimal("41.4")), {"con_porto"}),
            (
                s.Not(s.Compare("age", s.Op.LE, Decimal(100))),
                {"con_unset", "con_null", "con_wrote"},
            ),
            (s.Compare("vip", s.Op.NE, True), set()),
            (s.Compare(s.Builtin.LANGUAGE, s.Op.NE, "pt"), {"con_porto"}),
            (
                s.Not(s.Compare(s.Builtin.LANGUAGE, s.Op.EQ, "pt")),
                everyone - {"con_lisbon", "con_wrote"},
            ),
            (s.LastInbound(s.Op.LT, s.Ago(week)), set()),  # the latest of con_wrote's is 1h
            (s.LastInbound(s.Op.GT, s.Ago(week)), {"con_lisbon", "con_wrote"}),
            (s.Not(s.LastInbound(s.Op.GT, s.Ago(week))), {"con_porto", "con_unset", "con_null"}),
            (last("purchase", s.Op.LT, week), set()),
            (s.Not(last("purchase", s.Op.LT, week)), everyone),
        ],
    )


async def test_the_other_workspace_never_matches(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    def twin(contact_id: str) -> Seed:
        return seed_of(
            person(
                contact_id,
                name="Ana",
                tags=frozenset({"vip"}),
                schemes=frozenset({"whatsapp"}),
                interests=("shoes",),
                fields={"city": "Lisbon"},
                created_at=NOW - timedelta(days=1),
                events=(("purchase", Decimal(5), NOW - timedelta(hours=1)),),
            ),
            inbound=[("whatsapp", NOW - timedelta(hours=2))],
        )

    population = Population(ours=(twin("con_ours"),), theirs=(twin("con_theirs"),))
    ours = {"con_ours"}
    await both(
        sessions,
        engine,
        population,
        [
            (s.Everyone(), ours),
            (s.Not(s.HasTag(MISS)), ours),
            (s.HasTag("vip"), ours),
            (s.HasInterest("shoes"), ours),
            (s.Reachable("whatsapp"), ours),
            (s.Compare("city", s.Op.EQ, "Lisbon"), ours),
            (s.Compare(s.Builtin.NAME, s.Op.EQ, "Ana"), ours),
            (count("purchase", timedelta(days=1), s.Op.GE, "1"), ours),
            (s.Not(count("purchase", None, s.Op.EQ, "0")), ours),
            (s.LastInbound(s.Op.GT, s.Ago(timedelta(days=1))), ours),
            (s.Or((s.Bucket(s.Op.GE, 0), s.Not(s.Everyone()))), ours),
            (s.Not(s.Everyone()), set()),
        ],
    )


async def test_sums_are_exact_decimals_not_binary_floats(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    """0.1 + 0.2 is 0.3 and -5.85 + 0.7 is -5.15: in floats neither is (0.30000000000000004,
    -5.1499999999999995), so a sum added up in floats misses `=` and one side of `<=`/`>=`."""
    hour = timedelta(hours=1)
    tenths = person(
        "con_tenths",
        events=(("purchase", Decimal("0.1"), NOW - hour), ("purchase", Decimal("0.2"), NOW - hour)),
    )
    refund = person(
        "con_refund",
        events=(
            ("purchase", Decimal("-5.85"), NOW - hour),
            ("purchase", Decimal("0.70"), NOW - hour),
        ),
    )
    population = Population(ours=(seed_of(tenths), seed_of(refund)), theirs=())
    await both(
        sessions,
        engine,
        population,
        [
            (total("purchase", None, s.Op.EQ, "0.3"), {"con_tenths"}),
            (total("purchase", None, s.Op.LE, "0.3"), {"con_tenths", "con_refund"}),
            (total("purchase", None, s.Op.GT, "0.3"), set()),
            (total("purchase", timedelta(days=1), s.Op.EQ, "-5.15"), {"con_refund"}),
            (total("purchase", timedelta(days=1), s.Op.GE, "-5.15"), {"con_tenths", "con_refund"}),
            (total("purchase", timedelta(days=1), s.Op.LT, "-5.15"), set()),
        ],
    )
