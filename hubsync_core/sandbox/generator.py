"""Deterministic, lazy contact data.

Every generated value is a pure function of (seed, contact index), computed with a counter-based
hash (splitmix64) vectorised in numpy: a page renders 100 contacts with a few array operations,
and a search can compute a whole column for a million contacts in milliseconds. Nothing per
contact is kept in memory except what `Portal` stores (ids, dates, state, mutations).

Most properties are *categorical*: a small vocabulary of values plus an integer code per
contact. Search evaluates a filter once per vocabulary entry and maps it through the codes.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from . import pools

NULL = 0  # vocabulary code 0 is always "no value"
_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53
DAY_MS = 86_400_000


def stream_key(seed: int, name: str) -> np.uint64:
    """The key of one independent random stream (one per property/decision)."""
    salt = zlib.crc32(name.encode())
    key = (seed * 0x9E3779B97F4A7C15 + salt * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK64
    return np.uint64(key)


def mix(key: np.uint64, idx: np.ndarray) -> np.ndarray:
    """splitmix64 of (key, index): 64 well-mixed bits per index, independent of array length."""
    with np.errstate(over="ignore"):
        z = idx.astype(np.uint64) * _GOLDEN + key
        z ^= z >> _S30
        z *= _M1
        z ^= z >> _S27
        z *= _M2
        z ^= z >> _S31
    return z


def unit(key: np.uint64, idx: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1) per index."""
    return (mix(key, idx) >> _S11).astype(np.float64) * _TO_UNIT


def ascii_fold(text: str) -> str:
    """Lowercase ASCII letters only, for email local parts and domains."""
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("ł", "l")
    text = text.replace("Ł", "L").replace("æ", "ae").replace("đ", "d").replace("ı", "i")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


_LOREM = tuple(
    [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "et",
        "dolore",
        "magna",
        "aliqua",
        "renewal",
        "pipeline",
        "quarterly",
        "budget",
        "stakeholder",
        "onboarding",
        "integration",
    ]
)


def _lorem(length: int, salt: int) -> str:
    words = _LOREM
    out: list[str] = []
    size = 0
    i = salt
    while size < length:
        word = words[(i * 7 + 3) % len(words)]
        out.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(out)[:length]


def _hostile_huge(length: int) -> str:
    unit_text = "Ünïcødé ✓ 🚀 <b>x</b> \"q\" 'a', b; DROP\t"
    return (unit_text * (length // len(unit_text) + 1))[:length]


class Vocab:
    """Values of one categorical property; code 0 is None."""

    def __init__(self) -> None:
        self.values: list[str | None] = [None]

    def add(self, values: tuple[str, ...] | list[str]) -> int:
        """Append values; return the code of the first one."""
        start = len(self.values)
        self.values.extend(values)
        return start

    def freeze(self) -> np.ndarray:
        arr = np.empty(len(self.values), dtype=object)
        arr[:] = self.values
        return arr


class Ctx:
    """Memo of intermediate arrays for one batch of indices (one page, one search column)."""

    __slots__ = ("gen", "idx", "memo")

    def __init__(self, gen: Generator, idx: np.ndarray) -> None:
        self.gen = gen
        self.idx = idx
        self.memo: dict[str, np.ndarray] = {}

    def u(self, name: str) -> np.ndarray:
        return self._memo("u:" + name, lambda: unit(self.gen.keys(name), self.idx))

    def bits(self, name: str) -> np.ndarray:
        return self._memo("b:" + name, lambda: mix(self.gen.keys(name), self.idx))

    def codes(self, prop: str) -> np.ndarray:
        return self._memo(prop, lambda: self.gen.code_fns[prop](self))

    def _memo(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        """Each array is computed once per batch: properties derive from the same draws."""
        arr = self.memo.get(key)
        if arr is None:
            arr = self.memo[key] = make()
        return arr


def _pick(u: np.ndarray, n: int) -> np.ndarray:
    return np.minimum((u * n).astype(np.int64), n - 1)


class Generator:
    """Property values of generated contacts 0..n-1 for one seed, `now` and hostility."""

    #: Rendered from parts (a name, a domain, a dial code), not drawn from a vocabulary.
    RENDERED = ("email", "phone")

    def __init__(self, seed: int, n: int, now_ms: int, hostile: bool) -> None:
        self.seed = seed
        self.n = n
        self.now_ms = now_ms
        self.hostile = hostile
        self._keys: dict[str, np.uint64] = {}
        self._full: dict[str, np.ndarray] = {}
        self.vocab: dict[str, np.ndarray] = {}
        self.code_fns: dict[str, Callable[[Ctx], np.ndarray]] = {}
        self._build()

    def keys(self, name: str) -> np.uint64:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = stream_key(self.seed, name)
        return key

    # ---- vocabularies -------------------------------------------------------------------------
    def _build(self) -> None:
        cultures = pools.CULTURES
        weights = np.array([c.weight for c in cultures], dtype=np.float64)
        self._culture_cum = np.cumsum(weights) / weights.sum()

        first, last, city, country, region = Vocab(), Vocab(), Vocab(), Vocab(), Vocab()
        first_ascii: list[str] = ["contact"]
        last_ascii: list[str] = [""]
        self._first_off, self._first_n = [], []
        self._last_off, self._last_n = [], []
        self._city_off, self._city_n = [], []
        city_country: list[int] = [NULL]
        country_region: list[int] = [NULL]
        country_dial: list[str] = ["1"]
        self._free_mail: list[tuple[str, ...]] = []
        region_code = {r: region.add([r]) for r in pools.REGIONS}
        for c in cultures:
            self._first_off.append(first.add([n for n, _ in c.first]))
            self._first_n.append(len(c.first))
            first_ascii.extend(ascii_fold(a) for _, a in c.first)
            self._last_off.append(last.add([n for n, _ in c.last]))
            self._last_n.append(len(c.last))
            last_ascii.extend(ascii_fold(a) for _, a in c.last)
            cities: list[str] = []
            for name, _iso, dial, reg, town_list in c.countries:
                code = country.add([name])
                country_region.append(region_code[reg])
                country_dial.append(dial)
                for town in town_list:
                    cities.append(town)
                    city_country.append(code)
            self._city_off.append(city.add(cities))
            self._city_n.append(len(cities))
            self._free_mail.append(c.free_mail)
        self._first_off_a = np.array(self._first_off)
        self._first_n_a = np.array(self._first_n)
        self._last_off_a = np.array(self._last_off)
        self._last_n_a = np.array(self._last_n)
        self._city_off_a = np.array(self._city_off)
        self._city_n_a = np.array(self._city_n)
        self._city_country = np.array(city_country)
        self._country_region = np.array(country_region)
        self._country_dial = country_dial
        self._h_first = first.add(pools.HOSTILE_FIRST)
        self._h_last = last.add(pools.HOSTILE_LAST)
        first_ascii.extend(["contact"] * len(pools.HOSTILE_FIRST))
        last_ascii.extend([""] * len(pools.HOSTILE_LAST))
        self._first_ascii = first_ascii
        self._last_ascii = last_ascii

        company = Vocab()
        self._co_regular = company.add(pools.COMPANIES)
        self._co_chainge = company.add(pools.CHAINGE_COMPANIES)
        self._co_special = company.add(pools.COMPANY_SPECIALS)
        self._co_long = company.add([_lorem(10_000, 1).title()])
        self._co_hostile = company.add(pools.HOSTILE_COMPANY)
        self._co_huge = company.add([_hostile_huge(100_000)])
        domains: list[str | None] = [None]
        domains.extend(ascii_fold(c)[:24] + ".com" for c in pools.COMPANIES)
        domains.extend(
            "chainge.io" if i % 2 == 0 else "chaingelabs.com"
            for i in range(len(pools.CHAINGE_COMPANIES))
        )
        domains.extend([None] * (len(company.values) - len(domains)))
        self._company_domain = domains

        job = Vocab()
        self._job_regular = job.add(pools.JOB_TITLES)
        self._job_special = job.add(pools.JOBTITLE_SPECIALS)

        stage = Vocab()
        self._stage_regular = stage.add([v for v, _, _ in pools.LIFECYCLE_STAGES])
        stage_w = np.array([w for _, _, w in pools.LIFECYCLE_STAGES], dtype=np.float64)
        self._stage_cum = np.cumsum(stage_w) / stage_w.sum()
        self._stage_hostile = stage.add(pools.HOSTILE_STAGES)

        industry = Vocab()
        self._industry = industry.add([v for v, _ in pools.INDUSTRY_SEGMENTS])

        score = Vocab()
        self._score = score.add([str(i) for i in range(101)])
        self._score_hostile = score.add(["-5", "1e6", "007"])

        notes = Vocab()
        self._notes_short = notes.add(pools.SHORT_NOTES)
        self._notes_long = notes.add([_lorem(10_000, s) for s in (2, 3, 5)])
        self._notes_hostile = notes.add(pools.HOSTILE_NOTES)
        self._notes_huge = notes.add([_hostile_huge(100_000) + "\x00end"])

        meeting = Vocab()
        today = dt.datetime.fromtimestamp(self.now_ms / 1000, dt.UTC).date()
        self._meeting = meeting.add(
            [(today - dt.timedelta(days=d)).isoformat() for d in range(400)]
        )
        self._meeting_hostile = meeting.add(pools.HOSTILE_DATES)

        vocabs = {
            "firstname": first,
            "lastname": last,
            "company": company,
            "jobtitle": job,
            "lifecyclestage": stage,
            "country": country,
            "city": city,
            "region": region,
            "industry_segment": industry,
            "lead_score": score,
            "sales_notes": notes,
            "last_meeting_date": meeting,
        }
        self.vocab = {name: v.freeze() for name, v in vocabs.items()}
        self.code_fns = {
            "culture": self._culture,
            "firstname": self._firstname,
            "lastname": self._lastname,
            "city_raw": self._city_raw,
            "city": self._city,
            "country": self._country,
            "region": self._region,
            "company": self._company,
            "jobtitle": self._jobtitle,
            "lifecyclestage": self._stage,
            "industry_segment": self._industry_codes,
            "lead_score": self._lead_score,
            "sales_notes": self._notes,
            "last_meeting_date": self._meeting_codes,
        }

    # ---- codes per property (vectorised over ctx.idx) -----------------------------------------
    def _hostile_swap(
        self, ctx: Ctx, codes: np.ndarray, name: str, start: int, count: int, rate: float
    ) -> np.ndarray:
        if not self.hostile:
            return codes
        hit = ctx.u(name + ":h") < rate
        if hit.any():
            codes = codes.copy()
            codes[hit] = start + _pick(ctx.u(name + ":hv")[hit], count)
        return codes

    def _culture(self, ctx: Ctx) -> np.ndarray:
        c = np.searchsorted(self._culture_cum, ctx.u("culture"), side="right")
        return np.minimum(c, len(self._culture_cum) - 1)

    def _firstname(self, ctx: Ctx) -> np.ndarray:
        cult = ctx.codes("culture")
        codes = self._first_off_a[cult] + (ctx.u("first") * self._first_n_a[cult]).astype(np.int64)
        codes[ctx.u("first:null") < 0.01] = NULL
        return self._hostile_swap(
            ctx, codes, "first", self._h_first, len(pools.HOSTILE_FIRST), 0.02
        )

    def _lastname(self, ctx: Ctx) -> np.ndarray:
        cult = ctx.codes("culture")
        codes = self._last_off_a[cult] + (ctx.u("last") * self._last_n_a[cult]).astype(np.int64)
        codes[ctx.u("last:null") < 0.02] = NULL
        return self._hostile_swap(ctx, codes, "last", self._h_last, len(pools.HOSTILE_LAST), 0.02)

    def _city_raw(self, ctx: Ctx) -> np.ndarray:
        cult = ctx.codes("culture")
        return self._city_off_a[cult] + (ctx.u("city") * self._city_n_a[cult]).astype(np.int64)

    def _city(self, ctx: Ctx) -> np.ndarray:
        codes = ctx.codes("city_raw").copy()
        codes[ctx.u("loc:null") < 0.05] = NULL  # 2% no location at all, 3% a country only
        return codes

    def _country(self, ctx: Ctx) -> np.ndarray:
        codes = self._city_country[ctx.codes("city_raw")]
        codes[ctx.u("loc:null") < 0.02] = NULL
        return codes

    def _region(self, ctx: Ctx) -> np.ndarray:
        codes = self._country_region[ctx.codes("country")]
        codes[ctx.u("region:null") < 0.05] = NULL
        return codes

    def _company(self, ctx: Ctx) -> np.ndarray:
        u = ctx.u("company")
        v = ctx.u("company:v")
        codes = self._co_regular + _pick(v, len(pools.COMPANIES))
        chainge = (u >= 0.03) & (u < 0.11)
        codes[chainge] = self._co_chainge + _pick(v[chainge], len(pools.CHAINGE_COMPANIES))
        special = (u >= 0.11) & (u < 0.114)
        codes[special] = self._co_special + _pick(v[special], len(pools.COMPANY_SPECIALS))
        codes[(u >= 0.114) & (u < 0.1145)] = self._co_long
        codes[u < 0.03] = NULL
        if self.hostile:
            h = ctx.u("company:h")
            hit = h < 0.02
            codes[hit] = self._co_hostile + _pick(v[hit], len(pools.HOSTILE_COMPANY))
            codes[h > 0.998] = self._co_huge
        return codes

    def _jobtitle(self, ctx: Ctx) -> np.ndarray:
        u = ctx.u("job")
        v = ctx.u("job:v")
        codes = self._job_regular + _pick(v, len(pools.JOB_TITLES))
        special = (u >= 0.04) & (u < 0.045)
        codes[special] = self._job_special + _pick(v[special], len(pools.JOBTITLE_SPECIALS))
        codes[u < 0.04] = NULL
        return codes

    def _stage(self, ctx: Ctx) -> np.ndarray:
        pick = np.searchsorted(self._stage_cum, ctx.u("stage"), side="right")
        codes = self._stage_regular + np.minimum(pick, len(self._stage_cum) - 1)
        codes[ctx.u("stage:null") < 0.02] = NULL
        return self._hostile_swap(
            ctx, codes, "stage", self._stage_hostile, len(pools.HOSTILE_STAGES), 0.01
        )

    def _industry_codes(self, ctx: Ctx) -> np.ndarray:
        codes = self._industry + _pick(ctx.u("industry"), len(pools.INDUSTRY_SEGMENTS))
        codes[ctx.u("industry:null") < 0.10] = NULL
        return codes

    def _lead_score(self, ctx: Ctx) -> np.ndarray:
        codes = self._score + _pick(ctx.u("score") ** 1.3, 101)
        codes[ctx.u("score:null") < 0.10] = NULL
        return self._hostile_swap(ctx, codes, "score", self._score_hostile, 3, 0.01)

    def _notes(self, ctx: Ctx) -> np.ndarray:
        u = ctx.u("notes")
        v = ctx.u("notes:v")
        codes = self._notes_short + _pick(v, len(pools.SHORT_NOTES))
        long_ = u > 0.997
        codes[long_] = self._notes_long + _pick(v[long_], 3)
        codes[u < 0.60] = NULL
        if self.hostile:
            h = ctx.u("notes:h")
            hit = h < 0.02
            codes[hit] = self._notes_hostile + _pick(v[hit], len(pools.HOSTILE_NOTES))
            codes[h > 0.998] = self._notes_huge
        return codes

    def _meeting_codes(self, ctx: Ctx) -> np.ndarray:
        codes = self._meeting + _pick(ctx.u("meeting") ** 2, 400)
        codes[ctx.u("meeting:null") < 0.5] = NULL
        return self._hostile_swap(
            ctx, codes, "meeting", self._meeting_hostile, len(pools.HOSTILE_DATES), 0.02
        )

    # ---- rendering ----------------------------------------------------------------------------
    def values(self, prop: str, ctx: Ctx) -> list[Any]:
        """The values of one property for ctx.idx (strings or None)."""
        if prop == "email":
            return self._emails(ctx)
        if prop == "phone":
            return self._phones(ctx)
        return self.vocab[prop][ctx.codes(prop)].tolist()

    def _emails(self, ctx: Ctx) -> list[str | None]:
        first = ctx.codes("firstname").tolist()
        last = ctx.codes("lastname").tolist()
        company = ctx.codes("company").tolist()
        culture = ctx.codes("culture").tolist()
        pattern = _pick(ctx.u("email:pattern"), 4).tolist()
        work = (ctx.u("email:work") < 0.6).tolist()
        free = ctx.u("email:free").tolist()
        upper = (ctx.u("email:upper") < 0.03).tolist()
        null = (ctx.u("email:null") < 0.05).tolist()
        hostile = (ctx.u("email:h") < 0.01).tolist() if self.hostile else None
        fa, la, dom = self._first_ascii, self._last_ascii, self._company_domain
        out: list[str | None] = []
        for i, idx in enumerate(ctx.idx.tolist()):
            if null[i]:
                out.append(None)
                continue
            if hostile is not None and hostile[i]:
                out.append(pools.HOSTILE_EMAILS[idx % len(pools.HOSTILE_EMAILS)])
                continue
            f, last_name = fa[first[i]] or "contact", la[last[i]]
            p = pattern[i]
            if p == 0 and last_name:
                local = f"{f}.{last_name}"
            elif p == 1 and last_name:
                local = f"{f[0]}{last_name}"
            elif p == 2 and last_name:
                local = f"{f}_{last_name}"
            else:
                local = f
            if upper[i]:
                local = local.capitalize()
            domain = dom[company[i]] if work[i] else None
            if domain is None:
                mails = self._free_mail[culture[i]]
                domain = mails[int(free[i] * len(mails))]
            # The index suffix keeps emails unique, as HubSpot requires outside hostile mode.
            out.append(f"{local}{idx}@{domain}")
        return out

    def hostile_email_indices(self) -> np.ndarray:
        """Generated contacts whose email is a hostile one (none unless hostile)."""
        if not self.hostile:
            return np.zeros(0, dtype=np.int64)
        cached = self._full.get("#hostile_email")
        if cached is None:
            parts = [
                np.flatnonzero(
                    Ctx(self, np.arange(lo, min(self.n, lo + (1 << 17)))).u("email:h") < 0.01
                )
                + lo
                for lo in range(0, self.n, 1 << 17)
            ]
            cached = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            self._full["#hostile_email"] = cached
        return cached

    def _phones(self, ctx: Ctx) -> list[str | None]:
        country = ctx.codes("country").tolist()
        digits = (ctx.bits("phone") % np.uint64(10_000_000_000)).tolist()
        fmt = ctx.u("phone:fmt").tolist()
        null = (ctx.u("phone:null") < 0.10).tolist()
        dial = self._country_dial
        out: list[str | None] = []
        for i in range(len(digits)):
            if null[i]:
                out.append(None)
                continue
            d = f"{digits[i]:010d}"
            f = fmt[i]
            if f < 0.5:
                out.append(f"+{dial[country[i]]} {d[:3]} {d[3:6]} {d[6:]}")
            elif f < 0.8:
                out.append(f"+{dial[country[i]]}{d}")
            else:
                out.append(f"({d[:3]}) {d[3:6]}-{d[6:]}")
        return out

    # ---- whole columns for search -------------------------------------------------------------
    def full_codes(self, prop: str) -> np.ndarray:
        """Codes of a categorical property for every generated contact (cached, compact)."""
        arr = self._full.get(prop)
        if arr is None:
            small = np.int16 if len(self.vocab[prop]) < 32_000 else np.int32
            arr = np.zeros(self.n, dtype=small)
            # In chunks: full-length float temporaries would stay in the C heap (RSS) for good.
            for lo in range(0, self.n, 1 << 17):
                hi = min(self.n, lo + (1 << 17))
                arr[lo:hi] = Ctx(self, np.arange(lo, hi, dtype=np.int64)).codes(prop)
            self._full[prop] = arr
        return arr
