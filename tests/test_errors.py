"""The exception tree: every error class lives in metalake/errors.py, its docstring draws each
class under its real parent, and the codes that name them on the wire are unique."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import metalake
from metalake import errors
from metalake.server.errors import HTTP_CODES, status_of

# Exceptions that never reach a user: each is caught where it is raised and turned into a
# MetaLakeError or a per-file reason.
INTERNAL = {
    # Caught by the annotation readers, which add where the shape is.
    "metalake.lake.annotations.shapes.ShapeError",
    # Caught by the download loop and reported in its result, per file.
    "metalake.client.downloads.FetchFailedError",
    # Raised and caught inside the annotation fast path, which then leaves the file to the
    # full checker.
    "metalake.lake.annotations.fast.Refused",
}
# Codes the server answers for errors that are no MetaLakeError (starlette's HTTP errors, an
# unexpected exception), with the HTTP status each goes with.
SERVER_CODES = {**{code: status for status, code in HTTP_CODES.items()}, "internal_error": 500}
BRANCH = re.compile(r"^(?P<indent>(?:[│ ]   )*)(?P<glyph>[├└])── (?P<name>\w+)")


def _package_modules() -> list[object]:
    """Every module of the package but those that run when imported: the Alembic scripts and
    `python -m metalake`."""
    names = [m.name for m in pkgutil.walk_packages(metalake.__path__, "metalake.")]
    runs = (".migrations", "__main__")
    return [importlib.import_module(n) for n in names if not any(r in n for r in runs)]


def _defined_exceptions() -> dict[str, type[BaseException]]:
    """Exception classes by qualified name, each where it is defined."""
    found = {}
    for module in [metalake, *_package_modules()]:
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def _all_subclasses(cls: type) -> set[type]:
    subclasses = set(cls.__subclasses__())
    return subclasses.union(*(_all_subclasses(s) for s in subclasses))


def _tree_parents() -> dict[str, str]:
    """Each class the docstring draws, with the class it is drawn under; the glyphs must be
    consistent: `└──` closes a level, so no sibling follows it and no `│` continues it."""
    lines = errors.__doc__.splitlines()
    root = next(i for i, line in enumerate(lines) if line.strip() == "MetaLakeError")
    parents: dict[str, str] = {}
    path = ["MetaLakeError"]
    closed: list[bool] = []  # per depth: whether its last branch (`└──`) was drawn
    for line in lines[root + 1 :]:
        match = BRANCH.match(line[4:])
        if match is None:
            continue  # a description's second line
        depth = len(match["indent"]) // 4 + 1
        bars = [match["indent"][i] == "│" for i in range(0, len(match["indent"]), 4)]
        assert bars == [not c for c in closed[: depth - 1]], f"glyphs before {match['name']}"
        assert len(closed) < depth or not closed[depth - 1], f"{match['name']} after a └──"
        closed = [*closed[: depth - 1], match["glyph"] == "└"]
        path = [*path[:depth], match["name"]]
        parents[match["name"]] = path[depth - 1]
    assert all(closed), "the tree's last branches end in └──"
    return parents


def _error_classes() -> dict[str, type[errors.MetaLakeError]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.MetaLakeError)
    }


def test_every_error_class_lives_in_errors_py():
    _package_modules()  # so that every subclass is defined
    elsewhere = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _all_subclasses(errors.MetaLakeError)
        if cls.__module__ != errors.__name__ and not cls.__module__.startswith("tests")
    }
    assert elsewhere == set()
    strays = {
        name
        for name, cls in _defined_exceptions().items()
        if cls.__module__ != errors.__name__ and name not in INTERNAL
    }
    assert strays == set(), "an error a user can see belongs in metalake/errors.py"


def test_the_docstring_draws_every_class_under_its_parent():
    drawn = _tree_parents()
    real = {}
    for name, cls in _error_classes().items():
        if cls is errors.MetaLakeError:
            continue
        parents = [b for b in cls.__bases__ if issubclass(b, errors.MetaLakeError)]
        assert len(parents) == 1, name
        real[name] = parents[0].__name__
    assert drawn == real


def test_each_class_has_its_own_unique_code():
    classes = _error_classes().values()
    own = {cls.__name__: cls.__dict__.get("code") for cls in classes}
    assert [name for name, code in own.items() if code is None] == []
    codes = [cls.code for cls in classes]
    assert sorted(c for c in set(codes) if codes.count(c) > 1) == []
    for cls in classes:
        assert errors.error_class(cls.code) is cls


def test_server_codes_mean_the_class_of_that_code_or_none():
    """A code the server sends for an HTTP-level error reads back as the class with that
    code only where that class answers the same status; else as a plain MetaLakeError."""
    for code, status in SERVER_CODES.items():
        cls = errors.error_class(code)
        if cls is not errors.MetaLakeError:
            assert status_of(cls("x")) == status, code
    assert errors.error_class("internal_error") is errors.MetaLakeError
