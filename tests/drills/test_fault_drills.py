"""Fault drills (issue 8 item 1): syncs against a sandbox that answers 10-20 % of requests with
one fault kind, or all of them mixed, in full and incremental mode. After each drill the
database equals the sandbox's live contacts exactly (the runs that ended `partial` or `failed`
were completed by the next ones), nothing was stored twice, and every run's counters agree
with what the sandbox saw (`sync_helpers.audited_run`).

The quick drills run in CI; the long ones (`--long`) repeat them on a bigger portal, several
seeds and rates, both backends, with rounds of changes between incremental runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from sync_helpers import (
    LIST_PATH,
    SEARCH_PATH,
    Harness,
    HarnessFactory,
    RunAudit,
    audited_run,
    ids_sample,
    modified_in_window,
    run_row,
    settle,
    utcnow,
)

from hubsync_core.sandbox import FAULT_KINDS
from hubsync_core.sync.model import SyncProgress

from .conftest import DrillTally

#: Drills with "slow" answers shorten the read timeout so that those answers outlast it; the
#: others keep the default (30 s), so a request merely slowed by a busy machine (or the GIL
#: this process shares with the sandbox) never times out and blurs the counters.
QUICK_TIMEOUTS = (0.6, 0.9)  # (HUBSYNC_READ_TIMEOUT, sandbox slow_seconds)
LONG_TIMEOUTS = (1.0, 1.4)
FAULT_RATE = 0.2


@dataclass
class Drill:
    """A chain of runs that must end with the database exact."""

    h: Harness
    tally: DrillTally
    audits: list[RunAudit] = field(default_factory=list)

    def run(self, mode: str = "auto", **kwargs: object) -> RunAudit:
        audit = audited_run(self.h, mode, **kwargs)
        self.audits.append(audit)
        self.tally.runs += 1
        self.tally.statuses[audit.stats.status] += 1
        self.tally.faults.update(audit.faults)
        self.tally.requests += audit.requests
        return audit

    def until_exact(self, mode: str, *, max_runs: int = 12) -> list[RunAudit]:
        """Run `mode`, then resume (`auto`) until a run succeeds; check the database."""
        chain = [self.run(mode)]
        while chain[-1].stats.status != "succeeded":
            assert chain[-1].stats.status in ("partial", "failed"), chain[-1].stats.message
            assert len(chain) < max_runs, [a.stats.message for a in chain]
            chain.append(self.run("auto"))
        for later in chain[1:]:
            assert later.run.resumed_from is not None
        self.check()
        return chain

    def check(self) -> None:
        self.tally.drills += 1
        problems = self.h.mismatches()
        self.tally.mismatches += len(problems)
        self.tally.contacts_checked += self.h.sandbox.portal.live_count()
        assert not problems, problems


def _harness(
    factory: HarnessFactory,
    contacts: int,
    seed: int,
    *,
    retries: int = 3,
    kinds: tuple[str, ...] = (),
    timeouts: tuple[float, float] = QUICK_TIMEOUTS,
) -> Harness:
    # One fetch at a time: the sandbox's seeded faults follow the order of requests, so
    # sequential fetching keeps every drill's fault sequence the same from run to run.
    env = {"HUBSYNC_MAX_RETRIES": str(retries), "HUBSYNC_PARALLEL_FETCHES": "1"}
    config: dict[str, float] = {}
    if "slow" in kinds:
        env["HUBSYNC_READ_TIMEOUT"] = str(timeouts[0])
        config["slow_seconds"] = timeouts[1]
    return factory(contacts, seed, env=env, **config)


def _changes(h: Harness, seed: int, bulk: int) -> None:
    """A round of changes for an incremental run to pick up (faults off meanwhile)."""
    portal = h.sandbox.portal
    live = portal.live_ids()
    portal.set_modified(ids_sample(live, bulk, seed), utcnow())
    picked = ids_sample(live, 30, seed + 1)
    for n, hubspot_id in enumerate(picked[:20]):
        portal.update_contact(hubspot_id, {"jobtitle": f"Drill {seed}-{n}"})
    for hubspot_id in picked[20:24]:
        portal.archive_contact(hubspot_id)
    for k in range(3):
        portal.merge_contacts(picked[24 + 2 * k], picked[25 + 2 * k])
    created = [portal.create_contact({"email": f"drill{seed}-{n}@example.com"}) for n in range(5)]
    settle(h.sandbox, [*picked[:20], *created, *picked[24::2]])


def _fault_drill(
    h: Harness, tally: DrillTally, mode: str, kinds: tuple[str, ...], rate: float, rounds: int = 1
) -> Drill:
    drill = Drill(h, tally)
    if mode == "incremental":
        assert drill.run("full").stats.status == "succeeded"
    else:
        rounds = 1  # a full sync is the same whatever came before
    for round_ in range(rounds):
        if mode == "incremental":
            _changes(h, seed=10 * round_ + 1, bulk=900)
        h.sandbox.set_faults(rate, kinds)
        chain = drill.until_exact(mode)
        h.sandbox.clear_faults()
        # Nothing stored twice: the resumed runs read only what the cut ones had not stored.
        stored = sum(a.run.contacts for a in chain)
        if mode == "full":
            assert stored == h.sandbox.portal.live_count()
        else:
            window = chain[0].run.checkpoint["window"]
            assert all(a.run.checkpoint["window"] == window for a in chain)
            assert stored == len(modified_in_window(h.sandbox, window))
    return drill


# -- quick drills (CI) ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "incremental"])
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_sync_survives_one_fault_kind_at_twenty_percent(
    make_sqlite_harness: HarnessFactory, tally: DrillTally, kind: str, mode: str
) -> None:
    # Seeds fix the fault sequence; these inject at least one fault of the kind.
    seed = (100 if mode == "full" else 150) + FAULT_KINDS.index(kind)
    h = _harness(make_sqlite_harness, 1000, seed=seed, kinds=(kind,))

    drill = _fault_drill(h, tally, mode, (kind,), FAULT_RATE)

    injected = sum(a.faults.get(kind, 0) for a in drill.audits)
    assert injected > 0, "the drill injected no fault"
    if kind == "429":
        assert sum(a.run.rate_limited for a in drill.audits) == injected


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_sync_survives_every_fault_kind_mixed_with_few_retries(
    make_harness: HarnessFactory, tally: DrillTally, mode: str
) -> None:
    # One retry only, so some runs end partial and the next ones resume them.
    h = _harness(make_harness, 1500, seed=200, retries=1, kinds=FAULT_KINDS)

    drill = _fault_drill(h, tally, mode, FAULT_KINDS, FAULT_RATE, rounds=2)

    assert len({k for a in drill.audits for k in a.faults}) >= 4
    assert any(a.stats.status == "partial" for a in drill.audits)


@pytest.mark.parametrize("mode", ["full", "incremental"])
@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("401", "failed", "HubSpot rejected the access token"),
        ("daily429", "failed", "daily API limit"),
        ("503", "partial", "failed after 3 retries"),
    ],
)
def test_run_stopped_mid_way_is_completed_by_the_next_run(
    make_sqlite_harness: HarnessFactory,
    tally: DrillTally,
    mode: str,
    kind: str,
    status: str,
    message: str,
) -> None:
    h = _harness(make_sqlite_harness, 1200, seed=300)
    drill = Drill(h, tally)
    if mode == "incremental":
        assert drill.run("full").stats.status == "succeeded"
        _changes(h, seed=5, bulk=700)
    phase = "contacts" if mode == "full" else "changes"
    fired: list[int] = []

    def strike(progress: SyncProgress) -> None:
        if progress.phase == phase and progress.pages == 2 and not fired:
            fired.append(1)
            count = 4 if kind == "503" else 1  # 503: one more than the retries
            # Aimed at the walk's own requests: the lists read alongside it would otherwise
            # take some of the failures, and no request would exhaust its retries.
            h.sandbox.fail_next(
                kind, count=count, path=LIST_PATH if mode == "full" else SEARCH_PATH
            )

    stopped = drill.run(mode, on_progress=strike)

    assert fired
    assert stopped.stats.status == status
    assert message in stopped.stats.message
    assert stopped.stats.hint
    assert stopped.run.error_message == stopped.stats.message
    # Two pages were stored before the strike (a full sync may have fetched one or two more).
    assert stopped.run.contacts >= (200 if mode == "full" else 400)
    chain = drill.until_exact("auto")
    assert chain[0].run.resumed_from == stopped.run.id
    if mode == "full":
        assert stopped.run.contacts + chain[0].run.contacts == h.sandbox.portal.live_count()


@pytest.mark.parametrize(("storm", "status"), [(6, "succeeded"), (14, "partial")])
def test_429_storm_without_retry_after_is_waited_out_or_resumed(
    make_sqlite_harness: HarnessFactory, tally: DrillTally, storm: int, status: str
) -> None:
    h = _harness(make_sqlite_harness, 800, seed=400)
    drill = Drill(h, tally)
    fired: list[int] = []

    def storm_after_first_page(progress: SyncProgress) -> None:
        if progress.phase == "contacts" and progress.pages == 1 and not fired:
            fired.append(1)  # only list pages are fetched now: the storm hits them
            h.sandbox.fail_next("429", count=storm, path=LIST_PATH)

    first = drill.run("full", on_progress=storm_after_first_page)

    assert first.stats.status == status
    assert first.run.rate_limited == min(storm, 11)  # the client gives up after 10 retries
    if status == "partial":
        assert "kept answering 429" in first.stats.message
        h.sandbox.clear_faults()
        drill.until_exact("auto")
    else:
        drill.check()


def test_network_down_mid_run_ends_partial_and_the_next_run_completes(
    make_sqlite_harness: HarnessFactory, tally: DrillTally
) -> None:
    h = _harness(make_sqlite_harness, 1000, seed=500)
    port = int(h.sandbox.base_url.rsplit(":", 1)[1])
    down = threading.Event()

    def pull_the_plug(progress: SyncProgress) -> None:
        if progress.phase == "contacts" and progress.pages == 3 and not down.is_set():
            down.set()
            h.sandbox.stop()

    stats = h.run("full", on_progress=pull_the_plug)

    assert stats.status == "partial"
    assert "ConnectionError" in stats.message
    h.sandbox.start(port=port)
    drill = Drill(h, tally)
    chain = drill.until_exact("auto")
    assert run_row(h.db, chain[0].stats.run_id).resumed_from == stats.run_id


def test_run_counts_every_request_when_syncing_all_properties(
    make_sqlite_harness: HarnessFactory, tally: DrillTally
) -> None:
    h = make_sqlite_harness(300, seed=600, env={"HUBSYNC_PROPERTIES": "all"})

    Drill(h, tally).until_exact("full")


# -- long drills (--long) ---------------------------------------------------------------------

LONG_KINDS = (*((k,) for k in FAULT_KINDS), FAULT_KINDS)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("rate", [0.1, 0.2])
@pytest.mark.parametrize("kinds", LONG_KINDS, ids=lambda k: "mixed" if len(k) > 1 else k[0])
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_long_fault_drill(
    make_harness: HarnessFactory,
    tally: DrillTally,
    mode: str,
    kinds: tuple[str, ...],
    rate: float,
    seed: int,
) -> None:
    retries = 1 if len(kinds) > 1 else 2
    h = _harness(
        make_harness,
        5000,
        seed=seed * 1000 + len(kinds),
        retries=retries,
        kinds=kinds,
        timeouts=LONG_TIMEOUTS,
    )

    drill = _fault_drill(h, tally, mode, kinds, rate, rounds=3 if mode == "incremental" else 1)

    assert sum(sum(a.faults.values()) for a in drill.audits) > 0
