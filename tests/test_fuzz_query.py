"""Fuzzing the query language (issue 14, section 2) with hypothesis.

Queries come from the grammar of spec/query-language.md (valid ones), from mutating them
(near-valid ones: characters dropped, doubled or replaced, control characters and unicode put
in), and from hostile shapes (deep nesting, long lists, huge numbers). Every one must either
count or raise `InvalidQueryError`, within a time box, on SQLite and on PostgreSQL, and leave
every table of the lake as it was.

The budget is `METALAKE_FUZZ_EXAMPLES` examples per backend (default 200, split over the three
kinds), so `make test` stays short; `make fuzz` sets it high.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metalake import Client, InvalidQueryError
from metalake.lake.lake import lake_database
from metalake.store.schema import metadata
from tests.conftest import fresh_postgres_database
from tests.test_query import build_lake

BUDGET = int(os.environ.get("METALAKE_FUZZ_EXAMPLES", "200"))
PER_TEST = max(1, BUDGET // 3)
TIME_BOX_S = 5.0
"""Seconds per query: a box against hangs on a shared machine; test_query_limits times the
largest queries closely."""

SETTINGS = settings(
    max_examples=PER_TEST,
    deadline=None,
    derandomize=BUDGET <= 200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


class Lake:
    """The fuzzed lake, with the row count of each table to prove queries change nothing."""

    def __init__(self, home: Path, url: str | None) -> None:
        self.client = Client(home=home, database_url=url, show_progress=False)
        self.db = lake_database(home, url)

    def rows(self) -> dict[str, int]:
        with self.db.read() as conn:
            return {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables
            }

    def check(self, query: str) -> None:
        """The query counts or is refused as a query, within the time box."""
        started = time.perf_counter()
        try:
            count = self.client.get_item_count_from_metalake("image", query)
        except InvalidQueryError:
            pass
        except Exception as exc:
            raise AssertionError(f"query {query[:300]!r} raised {exc!r:.300}") from exc
        else:
            assert isinstance(count, int)
        assert time.perf_counter() - started < TIME_BOX_S, query[:300]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def lake(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lake]:
    root = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        build_lake(root / "lake", None, root / "media")
        fuzzed = Lake(root / "lake", None)
        yield fuzzed
    else:
        with fresh_postgres_database() as url:
            build_lake(root / "lake", url, root / "media")
            fuzzed = Lake(root / "lake", url)
            yield fuzzed
    fuzzed.client.close()
    fuzzed.db.close()


# The grammar ---------------------------------------------------------------------------------

WORD_CHARS = "abcXYZ019-_.#/:@+"
words = st.text(WORD_CHARS, min_size=1, max_size=12)
numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "-1e400", "1e-400", "nan", "inf", "0", "-0", ".5", "5.", "1_000"]),
)
dates = st.sampled_from(
    ["2024-05-01", "2024-05-01T08:30:00", "2024-05-01T23:30:00+00:00", "9999-12-31", "0001-01-01",
     "0001-01-01T00:00:00+14:00", "2024-02-30", "2024-13-01"]
)  # fmt: skip
strings = st.text(max_size=20).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
)
values = st.one_of(words, numbers, dates, strings)
FIELDS = ["name", "unique_name", "collection", "type", "tags", "size", "width", "height",
          "frame_count", "fps", "duration", "created", "modified", "metadata.camera",
          "metadata.speed", 'metadata."Camera Id"', "MetaData.Tags", "annotation.label",
          "annotation.confidence", "annotation.type", "annotation.operation",
          "annotation.source", "annotation.color", "annotation.metadata.track"]  # fmt: skip
INSIDE = ["label", "confidence", "type", "operation", "source", "color", "metadata.track"]
paths = st.one_of(st.sampled_from(FIELDS), st.builds("metadata.{}".format, words), words)
ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "~"])
cmps = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


def term(field: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds("{} {} {}".format, field, ops, values),
        st.builds(
            lambda p, v: f"{p} IN [{', '.join(v)}]", field, st.lists(values, min_size=1, max_size=5)
        ),
        st.builds("{} EXISTS".format, field),
    )


def combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            inner,
            st.sampled_from(["AND", "OR", "&&", "||", "and"]),
            inner,
        ),
        st.builds("NOT {}".format, inner),
        st.builds("!{}".format, inner),
        st.builds("({})".format, inner),
    )


inside = st.recursive(term(st.sampled_from(INSIDE)), combine, max_leaves=4)
atoms = st.one_of(
    term(paths),
    st.builds("annotation({})".format, inside),
    st.builds(
        lambda c, op, n: f"count({c}) {op} {n}",
        st.one_of(
            st.just(""),
            term(st.just("annotation.label")),
            st.builds("annotation({})".format, inside),
        ),
        cmps,
        numbers,
    ),
)
queries = st.recursive(atoms, combine, max_leaves=8)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A grammatical query with a few characters dropped, doubled, replaced or put in."""
    text = draw(queries)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["drop", "double", "replace", "insert"]))
        noise = draw(
            st.one_of(st.sampled_from('()[]",.!=<>~*?\\ \x00\x1b\t\n\ud800'), st.characters())
        )
        if how == "drop":
            text = text[:at] + text[at + 1 :]
        elif how == "double":
            text = text[:at] + text[at : at + 1] * 2 + text[at + 1 :]
        elif how == "replace":
            text = text[:at] + noise + text[at + 1 :]
        else:
            text = text[:at] + noise + text[at:]
    return text


@st.composite
def hostile(draw: st.DrawFn) -> str:
    """Deep nesting, long AND/OR chains and IN lists, long patterns, around the limits."""
    leaf = draw(term(st.sampled_from(FIELDS)))
    shape = draw(st.sampled_from(["parentheses", "not", "chain", "in", "pattern", "count"]))
    size = draw(st.integers(0, 1500))
    if shape == "parentheses":
        return "(" * size + leaf + ")" * size
    if shape == "not":
        return "!" * size + leaf
    if shape == "chain":
        joiner = draw(st.sampled_from([" OR ", " AND ", "||"]))
        return joiner.join([leaf] * max(1, size))
    if shape == "in":
        return f"{draw(st.sampled_from(FIELDS))} IN [{','.join(['1'] * max(1, size))}]"
    if shape == "pattern":
        return f'name ~ "{draw(st.text("*?a_%", max_size=size // 4))}"'
    return f"count() {draw(cmps)} {draw(numbers)}"


@pytest.mark.parametrize("kind", ["grammar", "mutated", "hostile"])
def test_every_query_counts_or_is_refused_and_changes_nothing(lake: Lake, kind: str):
    strategy = {"grammar": queries, "mutated": mutated(), "hostile": hostile()}[kind]
    before = lake.rows()

    @SETTINGS
    @given(strategy)
    def run(query: str) -> None:
        lake.check(query)

    run()
    assert lake.rows() == before
