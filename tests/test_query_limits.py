# ruff: noqa: E501, F401, F811
# (tables of exact messages read best one row per line; `query_lake` is test_query's fixture)
"""Hostile and careless queries (issue 14): every limit of `metalake.lake.query.limits` refuses
with `InvalidQueryError` naming it, before any SQL runs, and the largest queries within the
limits run on SQLite and on PostgreSQL in well under a second."""

from __future__ import annotations

import time

import pytest

from metalake import Client, InvalidQueryError
from metalake.lake.query.limits import MAX_QUERY_LENGTH
from tests.test_query import D1, D2, H1, N3, N4, O5, found, query_lake


def nest(opening: str, inner: str, closing: str, times: int) -> str:
    return opening * times + inner + closing * times


INT64 = "query error at column {}: the integer {} does not fit in 64 bits (from -9223372036854775808 to 9223372036854775807); quote it to compare it as text"
DOUBLE = "query error at column {}: the number {} is too large for a 64-bit float (at most about 1.8e308); quote it to compare it as text"
CONTROL = "query error at column {}: the query holds {} U+{}; remove it (only tab, newline and carriage return are allowed)"

REFUSED = [
    ("parentheses_300", nest("(", "tags=a", ")", 300), "query error: the query nests 301 levels deep; at most 20 are allowed"),
    ("depth_21", "!" * 20 + "tags=a", "query error: the query nests 21 levels deep; at most 20 are allowed"),
    ("not_5000", "!" * 5000 + "tags=a", "query error: the query nests 5,001 levels deep; at most 20 are allowed"),
    ("not_10000_words", "NOT " * 10000 + "tags=a", "query error: the query is 40,006 characters long; at most 10,000 are allowed"),
    ("or_9000", " OR ".join(f"tags=t{i}" for i in range(9000)), "query error: the query is 124,886 characters long; at most 10,000 are allowed"),
    ("terms_1001", "||".join("tags=a" for _ in range(1001)), "query error: the query has 1,001 terms; at most 1,000 are allowed"),
    ("and_1001", "&&".join("a=1" for _ in range(1001)), "query error: the query has 1,001 terms; at most 1,000 are allowed"),
    ("in_1001", "tags IN [" + ",".join("a" * 1001) + "]", "query error at column 6: the IN list has 1,001 values; at most 1,000 are allowed"),
    ("glob_50000", 'name ~ "' + "*a" * 4000 + '"', "query error at column 8: the pattern is 8,000 characters long; at most 200 are allowed after '~'"),
    ("wildcards_21", 'tags ~ "' + "*a" * 10 + "?" * 11 + '"', "query error at column 8: the pattern has 21 wildcards (* and ?); at most 20 are allowed"),
    ("nul", 'metadata.a = "x\x00y"', CONTROL.format(16, "the control character", "0000")),
    ("control", "tags = a\x1b", CONTROL.format(9, "the control character", "001B")),
    ("surrogate", 'tags = "\ud800"', CONTROL.format(9, "an unpaired surrogate", "D800")),
    ("count_huge", "count() >= 99999999999999999999999", INT64.format(12, "99999999999999999999999")),
    ("count_float_2_63", "count() = 9.3e18", "query error at column 11: count(...) compares with a whole number >= 0, found '9.3e18'"),
    ("size_2_63", "size > 9223372036854775808", INT64.format(8, "9223372036854775808")),
    ("width_below", "width > -9223372036854775809", INT64.format(9, "-9223372036854775809")),
    ("metadata_huge", "metadata.speed > 99999999999999999999999", INT64.format(18, "99999999999999999999999")),
    ("metadata_in_huge", "metadata.speed IN [1, 99999999999999999999999]", INT64.format(23, "99999999999999999999999")),
    ("confidence_1e400", "annotation.confidence < 1e400", DOUBLE.format(25, "1e400")),
    ("json_1e400", "annotation.metadata.track > 1e400", DOUBLE.format(29, "1e400")),
    ("digits_5000", "size > " + "9" * 5000, INT64.format(8, "99999999999999999999...(5000 digits)")),
    ("nan", "size > nan", "query error at column 8: size is a number; expected a number, found 'nan'"),
    ("inf", "fps < inf", "query error at column 7: fps is a number; expected a number, found 'inf'"),
    ("underscores", "size = 1_000", "query error at column 8: size is a number; expected a number, found '1_000'"),
]  # fmt: skip


HANG = 30
"""Seconds past which a query counts as hung (a plan that explodes takes minutes): a guard, not
a speed figure; on a quiet machine each of these answers in well under a second."""


@pytest.mark.parametrize(
    ("query", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_queries_past_the_limits_are_refused(query_lake: Client, query: str, message: str):
    started = time.perf_counter()
    with pytest.raises(InvalidQueryError) as refused:
        query_lake.get_item_count_from_metalake("image", query)
    assert str(refused.value) == message
    assert time.perf_counter() - started < HANG


LARGEST = {
    "or_1000_tags": "||".join(f"tags=t{i % 10}" for i in range(1000)),
    "or_1000_width": "||".join(f"width={i % 10}" for i in range(1000)),
    "and_1000_width": "&&".join(f"width>-{i % 10}" for i in range(1000)),
    "or_1000_mixed": "||".join(("tags=a", "width=1", "metadata.k=1", "name~x")[i % 4] for i in range(1000)),
    "or_430_labels": "||".join(f"annotation.label=l{i}" for i in range(430)),
    "in_1000_tags": "tags IN [" + ",".join(str(i % 100) for i in range(1000)) + "]",
    "in_1000_width": "width IN [" + ",".join(str(i % 100) for i in range(1000)) + "]",
    "in_1000_metadata": "metadata.speed IN [" + ",".join(str(i % 100) for i in range(1000)) + "]",
    "in_1000_labels": "annotation.label IN [" + ",".join(str(i % 100) for i in range(1000)) + "]",
    "count_in_1000": "count(annotation.label IN [" + ",".join(str(i % 100) for i in range(1000)) + "]) >= 1",
    "in_4x1000": "||".join("tags IN [" + ",".join("a" * 1000) + "]" for _ in range(4)),
    "depth_not": "!" * 19 + "tags=a",
    "depth_parentheses": nest("(", "tags=a", ")", 19),
    "depth_not_groups": nest("NOT (tags=a OR ", "tags=b", ")", 9),
    "depth_or_members": nest("(tags=a OR ", "tags=b", ")", 19),
    "depth_and_or": "".join(f"(width={i} {'OR' if i % 2 else 'AND'} " for i in range(19)) + "width=1" + ")" * 19,
    "depth_within": "count(annotation(" + nest("NOT (label=a OR ", "confidence>0.5", ")", 8) + ")) >= 1",
    "depth_attributes": nest("NOT (annotation.color=1 AND ", "annotation.metadata.j = 3", ")", 9),
    "depth_long_lists": nest("NOT (tags=a AND ", "||".join(f"width={i % 10}" for i in range(900)), ")", 9),
    "wildcards_20": 'name ~ "' + "*a" * 10 + "?" * 10 + "b" * 150 + '"',
}  # fmt: skip


@pytest.mark.parametrize("name", LARGEST)
def test_the_largest_queries_within_the_limits_run(query_lake: Client, name: str):
    query = LARGEST[name]
    assert len(query) <= MAX_QUERY_LENGTH
    started = time.perf_counter()
    assert isinstance(query_lake.get_item_count_from_metalake("image", query), int)
    assert time.perf_counter() - started < HANG


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("width = 9223372036854775807", set()),
        ("width > -9223372036854775808", {D1, D2, N4, O5, H1} | {N3}),
        ("count() < 9223372036854775807", {D1, D2, N4, O5, H1} | {N3}),
        (
            "count(annotation.label = car) < 9223372036854775807",
            {D1, D2, N4, O5, H1} | {N3},
        ),
        ("width > 63.5", {D1, D2, N4, O5, H1}),
        ("height < 48.5", {D1, D2, O5, H1, N3}),
        ("metadata.speed = 30.0", {D1}),
        ('metadata.serial = "99999999999999999999999"', set()),
        ("created = 9999-12-31", set()),
        ("created < 0001-01-02", set()),
        ("(tags = city OR (tags = water OR tags = v-01))", {D1, D2, H1, N3}),
        ("tags = city\tOR\ntags = water", {D1, D2, H1}),
    ],
)
def test_numbers_and_dates_at_the_edges(query_lake: Client, query: str, expected: set[str]):
    assert found(query_lake, query) == expected
