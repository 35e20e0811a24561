"""Segments in the database: SQL evaluation agrees with Python, recompute, definitions CRUD."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from segments.helpers import one
from sqlalchemy import func, insert, select, update

from hubsync_core.config import Settings
from hubsync_core.segments import (
    BuiltinParams,
    Condition,
    Group,
    SegmentDef,
    SegmentError,
    builtin_segments,
    compile_rule,
    matches,
    segments_for,
)
from hubsync_core.store import segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.models import Contact, ContactSegmentRow, ListMembership

CONTACTS = Contact.__table__
MEMBERSHIP = ContactSegmentRow.__table__
LISTS = ListMembership.__table__

REF = datetime(2026, 3, 1, 12, 0, 0)
DAY = timedelta(days=1)

#: One fixture for both evaluators. Ids are strings; "10" checks numeric comparison of ids.
ROWS: list[dict[str, Any]] = [
    dict(
        hubspot_id="1",
        email="Ann@Example.com",
        firstname="Ann",
        company="Chainge GmbH",
        lifecyclestage="customer",
        created_at=datetime(2024, 1, 15, 10),
        updated_at=REF - 30 * DAY,
        properties={"country": "DE", "employees": "50", "renewal": "2026-02-20", "score": "7.5"},
    ),
    dict(
        hubspot_id="2",
        email="bob@example.org",
        company="CHAINGE",
        lifecyclestage="lead",
        created_at=datetime(2025, 6, 1),
        updated_at=REF - 30 * DAY - timedelta(seconds=1),
        properties={"country": "fr", "employees": "abc", "renewal": "2025-01-01T08:30:00.000Z"},
    ),
    dict(
        hubspot_id="3",
        email="carol@chainge.io",
        company="chAinge labs",
        lifecyclestage="opportunity",
        created_at=datetime(2025, 6, 1, 23, 59, 59),
        updated_at=REF - 90 * DAY,
        properties={"country": "US", "employees": "-3", "renewal": "not a date"},
    ),
    dict(
        hubspot_id="4",
        email="dan@acme.test",
        company="Acme 100% _real_",
        lifecyclestage="Evangelist",
        created_at=datetime(2025, 6, 2),
        updated_at=REF - 89 * DAY - timedelta(hours=23),
        properties={"country": "", "employees": "1.5.2"},
    ),
    dict(hubspot_id="5", properties={}),
    dict(
        hubspot_id="6",
        email="eve@x.test",
        company="O'Brien; DROP TABLE contacts;--",
        lifecyclestage="subscriber",
        created_at=datetime(2026, 3, 1),
        updated_at=REF + DAY,
        properties={"country": "DE", "employees": "1000", "renewal": "2026-03-01 09:00:00"},
    ),
    dict(
        hubspot_id="7",
        company="chainge archived",
        lifecyclestage="customer",
        updated_at=REF,
        archived=True,
        properties={"country": "DE"},
    ),
    dict(
        hubspot_id="8",
        firstname="ÄRGER",
        company="Äpfel AG",
        lifecyclestage="lead",
        updated_at=REF - 200 * DAY,
        properties={"country": "de ", "employees": 42},
    ),
    dict(
        hubspot_id="10",
        company="",
        email="",
        updated_at=REF - 10 * DAY,
        properties={"country": None},
    ),
]
LIST_MEMBERS = {"100": ["2", "5", "7"], "200": ["3"]}
LIVE = {"1", "2", "3", "4", "5", "6", "8", "10"}


def contact_row(row: dict[str, Any]) -> dict[str, Any]:
    full = {c: None for c in ("email", "firstname", "lastname", "company", "phone", "jobtitle")}
    full.update(lifecyclestage=None, created_at=None, updated_at=None, archived=False)
    full.update(row)
    full["synced_at"] = REF
    return full


def list_ids_of(contact_id: str) -> set[str]:
    return {lid for lid, ids in LIST_MEMBERS.items() if contact_id in ids}


def seed(db: Database, rows: Iterable[dict[str, Any]] = ROWS) -> None:
    with db.transaction() as conn:
        conn.execute(insert(CONTACTS), [contact_row(r) for r in rows])
        conn.execute(
            insert(LISTS),
            [
                {"list_id": lid, "hubspot_id": cid}
                for lid, ids in LIST_MEMBERS.items()
                for cid in ids
            ],
        )


def sql_ids(db: Database, rule: Group | Condition, ref: datetime = REF) -> set[str]:
    with db.connect() as conn:
        condition = compile_rule(rule, ref, CONTACTS, conn.dialect.name)
        query = select(CONTACTS.c.hubspot_id).where(CONTACTS.c.archived.is_(False), condition)
        return set(conn.execute(query).scalars())


def python_ids(rule: Group | Condition, ref: datetime = REF) -> set[str]:
    live = [contact_row(r) for r in ROWS if not r.get("archived")]
    return {r["hubspot_id"] for r in live if matches(rule, r, ref, list_ids_of(r["hubspot_id"]))}


def live_except(*ids: str) -> set[str]:
    return LIVE - set(ids)


CASES: list[tuple[str, Group, set[str]]] = [
    ("eq ignores case", one("company", "eq", "chainge"), {"2"}),
    ("neq includes empty", one("company", "neq", "chainge"), live_except("2")),
    ("contains any case", one("company", "contains", "CHAINGE"), {"1", "2", "3"}),
    ("starts_with", one("company", "starts_with", "chainge"), {"1", "2", "3"}),
    ("contains percent", one("company", "contains", "100%"), {"4"}),
    ("contains underscore", one("company", "contains", "_"), {"4"}),
    ("percent then underscore is literal", one("company", "contains", "0%_"), set()),
    ("contains quote", one("company", "contains", "'"), {"6"}),
    ("contains sql text", one("company", "contains", "; DROP TABLE contacts;--"), {"6"}),
    ("eq injection", one("company", "eq", "x' OR '1'='1"), set()),
    ("starts_with underscore", one("company", "starts_with", "_"), set()),
    ("email contains", one("email", "contains", "EXAMPLE"), {"1", "2"}),
    ("ascii folding only", one("firstname", "eq", "ärger"), set()),
    ("unicode exact", one("firstname", "eq", "Ärger"), {"8"}),
    ("unicode contains", one("company", "contains", "ÄPFEL"), {"8"}),
    (
        "in",
        one("lifecyclestage", "in", ["customer", "evangelist", "opportunity"]),
        {"1", "3", "4"},
    ),
    ("in injection", one("company", "in", ["a'); DELETE FROM contacts;--"]), set()),
    ("is_empty column", one("company", "is_empty"), {"5", "10"}),
    ("is_not_empty column", one("company", "is_not_empty"), {"1", "2", "3", "4", "6", "8"}),
    ("is_empty property", one("properties.country", "is_empty"), {"4", "5", "10"}),
    ("is_not_empty property", one("properties.country", "is_not_empty"), {"1", "2", "3", "6", "8"}),
    ("property eq", one("properties.country", "eq", "de"), {"1", "6"}),
    ("property in", one("properties.country", "in", ["DE", "FR"]), {"1", "2", "6"}),
    ("property gt number", one("properties.employees", "gt", 40), {"1", "6", "8"}),
    ("property lt number", one("properties.employees", "lt", 0), {"3"}),
    ("property between", one("properties.employees", "between", 42, 50), {"1", "8"}),
    ("property eq number", one("properties.employees", "eq", 50), {"1"}),
    ("property neq number", one("properties.employees", "neq", 50), live_except("1")),
    ("property eq float", one("properties.score", "eq", 7.5), {"1"}),
    ("id numeric", one("hubspot_id", "gt", 5), {"6", "8", "10"}),
    ("engaged window", one("updated_at", "within_last_days", 30), {"1", "6", "10"}),
    ("cold window", one("updated_at", "more_than_days_ago", 90), {"3", "8"}),
    ("date between a day", one("created_at", "between", "2025-06-01", "2025-06-01"), {"2", "3"}),
    ("date eq a day", one("created_at", "eq", "2025-06-01"), {"2", "3"}),
    ("date neq a day", one("created_at", "neq", "2025-06-01"), live_except("2", "3")),
    ("date eq instant", one("created_at", "eq", "2025-06-02T00:00:00"), {"4"}),
    ("date gt", one("created_at", "gt", "2025-06-01T12:00:00"), {"3", "4", "6"}),
    ("date lt", one("created_at", "lt", "2025-01-01"), {"1"}),
    (
        "date between instants",
        one("created_at", "between", "2025-06-01T00:00:01", "2025-06-02T00:00:00"),
        {"3", "4"},
    ),
    ("date is_empty", one("created_at", "is_empty"), {"5", "8", "10"}),
    ("date is_not_empty", one("created_at", "is_not_empty"), {"1", "2", "3", "4", "6"}),
    ("property within days", one("properties.renewal", "within_last_days", 30), {"1", "6"}),
    ("property days ago", one("properties.renewal", "more_than_days_ago", 365), {"2"}),
    ("property date gt", one("properties.renewal", "gt", "2026-01-01"), {"1", "6"}),
    ("property date lt", one("properties.renewal", "lt", "2026-01-01"), {"2"}),
    (
        "property date between",
        one("properties.renewal", "between", "2025-01-01", "2026-02-20"),
        {"1", "2"},
    ),
    ("in_list", one("list", "in_list", "100"), {"2", "5"}),
    ("in_list other", one("list", "in_list", "200"), {"3"}),
    ("in_list unknown", one("list", "in_list", "999"), set()),
    (
        "all with nested any",
        Group(
            "all",
            [
                Condition("company", "contains", "chainge"),
                Group(
                    "any",
                    [
                        Condition("lifecyclestage", "eq", "customer"),
                        Condition("list", "in_list", "100"),
                    ],
                ),
            ],
        ),
        {"1", "2"},
    ),
    (
        "any of alls",
        Group(
            "any",
            [
                Group(
                    "all",
                    [
                        Condition("properties.country", "in", ["DE"]),
                        Condition("properties.employees", "gt", 100),
                    ],
                ),
                Group(
                    "all",
                    [
                        Condition("updated_at", "more_than_days_ago", 90),
                        Condition("lifecyclestage", "eq", "lead"),
                    ],
                ),
            ],
        ),
        {"6", "8"},
    ),
]


@pytest.fixture
def seeded(db: Database) -> Database:
    seed(db)
    return db


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ],
)
def read_only_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """The seeded fixture, shared by the read-only cases of this module (one per backend)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('segments') / 'read-only.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database()
    database = Database(url)
    seed(database)
    yield database
    database.dispose()
    if request.param != "sqlite":
        server.drop_database(url)


@pytest.mark.parametrize(("label", "rule", "expected"), CASES, ids=[c[0] for c in CASES])
def test_python_and_sql_agree_on_each_operator(
    read_only_db: Database, label: str, rule: Group, expected: set[str]
) -> None:
    assert python_ids(rule) == expected
    assert sql_ids(read_only_db, rule) == expected


ODD_NUMBERS = [
    "1e5",
    " 5",
    "5 ",
    "+5",
    "0x10",
    "١٢",
    "5.",
    ".5",
    "--5",
    "5-5",
    "1.2.3",
    "007",
    "-0",
    "12345678901234567890",
    "-",
    "",
    "½",
]
ODD_DATES = [
    "2026-02-30",
    "2026-1-1",
    "2026-01-01T1:00",
    "20260101",
    "2026-01-01X",
    "2026-01-01 ",
    "2026-01-01T10:00:00+02:00",
    "2026-01-01T10:00",
    "２０２６-01-01",
    "2026-01-01T10:00:00",
]


def test_odd_values_never_raise_and_both_evaluators_agree(db: Database) -> None:
    rows = [
        {"hubspot_id": str(i), "properties": {"v": value}}
        for i, value in enumerate([*ODD_NUMBERS, *ODD_DATES, None, 5, -2.5])
    ]
    seed(db, rows)
    live = [contact_row(r) for r in rows]
    rules = [
        one("properties.v", "gt", -1000),
        one("properties.v", "eq", 5),
        one("properties.v", "between", -1, 6),
        one("properties.v", "gt", "2025-12-31"),
        one("properties.v", "within_last_days", 365),
        one("properties.v", "more_than_days_ago", 1),
    ]
    for rule in rules:
        expected = {r["hubspot_id"] for r in live if matches(rule, r, REF)}
        assert sql_ids(db, rule) == expected, rule
    numeric = {r["properties"]["v"] for r in live if matches(rules[0], r, REF)}
    assert numeric == {"007", "-0", "12345678901234567890", "20260101", 5, -2.5}


def test_injection_attempts_are_inert_and_the_tables_survive(seeded: Database) -> None:
    hostile = SegmentDef(
        "Hostile",
        "#000000",
        Group(
            "any",
            [
                Condition("company", "eq", "'; DROP TABLE contacts;--"),
                Condition("email", "contains", "%' OR 1=1 --"),
                Condition("properties.country", "in", ["x'); DELETE FROM contacts;--"]),
                Condition("list", "in_list", "1"),
            ],
        ),
    )
    counts = segment_store.recompute(seeded, [hostile], REF)
    assert counts == {"hostile": 0}
    with seeded.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CONTACTS)).scalar_one() == len(ROWS)


# -- recompute --------------------------------------------------------------------------------


def memberships(db: Database) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with db.connect() as conn:
        for segment, contact in conn.execute(select(MEMBERSHIP.c.segment, MEMBERSHIP.c.hubspot_id)):
            out.setdefault(segment, set()).add(contact)
    return out


def test_recompute_writes_builtin_memberships_and_excludes_archived(seeded: Database) -> None:
    defs = builtin_segments(BuiltinParams(chainge_list_id="100"))
    counts = segment_store.recompute(seeded, defs, REF)
    expected = {
        "chainge": {"1", "2", "3", "5"},
        "engaged": {"1", "6", "10"},
        "cold": {"3", "8"},
        "high_value": {"1", "3", "4"},
    }
    assert memberships(seeded) == expected
    assert counts == {key: len(ids) for key, ids in expected.items()}


def test_recompute_agrees_with_segments_for(seeded: Database) -> None:
    defs = builtin_segments(BuiltinParams(chainge_list_id="100"))
    segment_store.recompute(seeded, defs, REF)
    stored = memberships(seeded)
    for row in ROWS:
        if row.get("archived"):
            continue
        cid = row["hubspot_id"]
        expected = segments_for(contact_row(row), defs, REF, list_ids_of(cid))
        assert expected == [k for k in (d.key for d in defs) if cid in stored.get(k, set())]


def test_recompute_replaces_stale_rows_and_follows_changes(seeded: Database) -> None:
    defs = builtin_segments()
    segment_store.recompute(seeded, defs, REF)
    with seeded.transaction() as conn:
        conn.execute(update(CONTACTS).where(CONTACTS.c.hubspot_id == "1").values(archived=True))
        conn.execute(update(CONTACTS).where(CONTACTS.c.hubspot_id == "8").values(updated_at=REF))
    counts = segment_store.recompute(seeded, defs, REF)
    stored = memberships(seeded)
    assert "1" not in set().union(*stored.values())
    assert stored["engaged"] == {"6", "8", "10"}
    assert stored["cold"] == {"3"}
    assert counts["engaged"] == 3
    # a later reference time moves contacts between windows
    segment_store.recompute(seeded, defs, REF + 100 * DAY)
    assert memberships(seeded)["cold"] == {"2", "3", "4", "6", "8", "10"}


def test_recompute_in_the_callers_transaction_and_prune(seeded: Database) -> None:
    user = SegmentDef("Leads", "#123456", one("lifecyclestage", "eq", "lead"))
    segment_store.recompute(seeded, [*builtin_segments(), user], REF)
    with seeded.transaction() as conn:
        counts = segment_store.recompute(conn, builtin_segments(), REF, prune=True)
    assert set(counts) == {"chainge", "engaged", "cold", "high_value"}
    assert "leads" not in memberships(seeded)


def test_recompute_rolls_back_as_a_whole(seeded: Database) -> None:
    segment_store.recompute(seeded, builtin_segments(), REF)
    before = memberships(seeded)
    with pytest.raises(RuntimeError), seeded.transaction() as conn:
        segment_store.recompute(conn, builtin_segments(BuiltinParams(engaged_days=1)), REF)
        raise RuntimeError("sync failed after recompute")
    assert memberships(seeded) == before


# -- definitions --------------------------------------------------------------------------------

EU_LEADS = SegmentDef(
    "EU leads",
    "#AA3377",
    Group(
        "all",
        [
            Condition("properties.country", "in", ["DE", "FR", "IT"]),
            Condition("lifecyclestage", "eq", "lead"),
        ],
    ),
    description="Leads in the EU",
)


def known(db: Database) -> set[str]:
    return segment_store.known_properties(db)


def test_known_properties_lists_columns_and_synced_property_keys(seeded: Database) -> None:
    fields = segment_store.known_properties(seeded)
    assert {"email", "updated_at", "hubspot_id"} <= fields
    assert {"properties.country", "properties.employees", "properties.renewal"} <= fields
    assert "properties.nope" not in fields


def test_list_definitions_puts_builtins_first_with_windows_from_settings(db: Database) -> None:
    defs = segment_store.list_definitions(db, Settings(engaged_days=14, cold_days=60))
    assert [d.name for d in defs] == ["chainge", "engaged", "cold", "high_value"]
    assert defs[1].rule.items[0].value == 14
    assert defs[2].rule.items[0].value == 60


def test_save_preview_recompute_and_delete_a_user_segment(seeded: Database) -> None:
    saved = segment_store.save_definition(seeded, EU_LEADS, known_properties=known(seeded), ref=REF)
    assert saved.key == "eu_leads"
    defs = segment_store.list_definitions(seeded, Settings())
    assert defs[-1] == EU_LEADS
    assert memberships(seeded)["eu_leads"] == {"2"}
    assert segment_store.get_definition(seeded, "eu_leads") == EU_LEADS

    assert segment_store.delete_definition(seeded, "EU leads") is True
    assert "eu_leads" not in memberships(seeded)
    assert [d.name for d in segment_store.list_definitions(seeded)] == [
        "chainge",
        "engaged",
        "cold",
        "high_value",
    ]
    assert segment_store.delete_definition(seeded, "EU leads") is False


def test_preview_counts_and_samples_without_writing(seeded: Database) -> None:
    count, sample = segment_store.preview(seeded, builtin_segments()[0], REF, sample=2)
    assert count == 3  # chainge without a list: 1, 2, 3 (7 is archived)
    assert [r["hubspot_id"] for r in sample] == ["1", "2"]  # most recently modified first
    assert set(sample[0]) == set(segment_store.PREVIEW_COLUMNS)
    assert memberships(seeded) == {}
    assert segment_store.preview(seeded, one("company", "eq", "nobody"), REF) == (0, [])


def test_saving_refuses_duplicates_reserved_names_and_unknown_properties(seeded: Database) -> None:
    props = known(seeded)
    segment_store.save_definition(seeded, EU_LEADS, known_properties=props)
    with pytest.raises(SegmentError, match="already exists"):
        segment_store.save_definition(
            seeded, SegmentDef("eu-Leads", "#000000", EU_LEADS.rule), known_properties=props
        )
    with pytest.raises(SegmentError, match="reserved for the built-in segment 'cold'"):
        segment_store.save_definition(
            seeded, SegmentDef("cold", "#000000", EU_LEADS.rule), known_properties=props
        )
    with pytest.raises(SegmentError, match="unknown property 'contry'"):
        segment_store.save_definition(
            seeded,
            SegmentDef("Typo", "#000000", one("properties.contry", "eq", "DE")),
            known_properties=props,
        )
    with pytest.raises(SegmentError, match="no segment named 'Missing'"):
        segment_store.save_definition(
            seeded,
            SegmentDef("X", "#000000", EU_LEADS.rule),
            known_properties=props,
            original_name="Missing",
        )


def test_editing_and_renaming_moves_membership_to_the_new_key(seeded: Database) -> None:
    props = known(seeded)
    segment_store.save_definition(seeded, EU_LEADS, known_properties=props, ref=REF)
    renamed = SegmentDef("Europe leads", "#AA3377", one("properties.country", "in", ["DE", "FR"]))
    segment_store.save_definition(
        seeded, renamed, known_properties=props, original_name="EU leads", ref=REF
    )
    stored = memberships(seeded)
    assert "eu_leads" not in stored
    assert stored["europe_leads"] == {"1", "2", "6"}
    names = [d.name for d in segment_store.list_definitions(seeded)]
    assert names[4:] == ["Europe leads"]


def test_builtin_window_edited_in_the_app_wins_until_reset(seeded: Database) -> None:
    settings = Settings(engaged_days=30)
    engaged = segment_store.list_definitions(seeded, settings)[1]
    edited = SegmentDef(
        engaged.name, "#00FF00", one("updated_at", "within_last_days", 7), builtin=True
    )
    segment_store.save_definition(seeded, edited, known_properties=known(seeded), ref=REF)
    defs = segment_store.list_definitions(seeded, settings)
    assert defs[1] == edited
    assert [d.name for d in defs] == ["chainge", "engaged", "cold", "high_value"]
    assert memberships(seeded)["engaged"] == {"6"}

    assert segment_store.reset_builtin(seeded, "engaged") is True
    assert segment_store.list_definitions(seeded, settings)[1].rule.items[0].value == 30


def test_builtins_cannot_be_deleted_or_renamed(seeded: Database) -> None:
    with pytest.raises(SegmentError, match="'cold' is a built-in segment: it cannot be deleted"):
        segment_store.delete_definition(seeded, "cold")
    cold = builtin_segments()[2]
    with pytest.raises(SegmentError, match="cannot be renamed"):
        segment_store.save_definition(seeded, cold, known_properties=None, original_name="engaged")


def test_import_adds_skips_existing_and_replaces_on_request(seeded: Database) -> None:
    props = known(seeded)
    segment_store.save_definition(seeded, EU_LEADS, known_properties=props)
    imported = [
        SegmentDef("EU leads", "#111111", one("lifecyclestage", "eq", "lead")),
        SegmentDef("Big", "#222222", one("properties.employees", "gt", 100)),
        builtin_segments(BuiltinParams(cold_days=120))[2],
    ]
    result = segment_store.import_definitions(seeded, imported, known_properties=props)
    assert result.added == ["Big"] and result.skipped == ["EU leads", "cold"]
    assert segment_store.get_definition(seeded, "EU leads") == EU_LEADS

    result = segment_store.import_definitions(
        seeded, imported, known_properties=props, replace_existing=True, ref=REF
    )
    assert result.replaced == ["EU leads", "Big", "cold"]
    defs = segment_store.list_definitions(seeded, Settings())
    assert defs[2].rule.items[0].value == 120
    assert segment_store.get_definition(seeded, "EU leads") == imported[0]
    assert memberships(seeded)["big"] == {"6"}


def test_import_is_all_or_nothing(seeded: Database) -> None:
    bad = [
        SegmentDef("Fine", "#222222", one("email", "is_empty")),
        SegmentDef("Broken", "#222222", one("properties.nope", "eq", "x")),
    ]
    with pytest.raises(SegmentError, match="unknown property 'nope'"):
        segment_store.import_definitions(seeded, bad, known_properties=known(seeded))
    assert segment_store.get_definition(seeded, "Fine") is None
