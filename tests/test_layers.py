"""The layers depend one way: the core (lake, store, blobs, media) imports no way in (server,
client, cli), and no route or header name lives in the core."""

from __future__ import annotations

import ast
from pathlib import Path

import metalake

PACKAGE = Path(metalake.__file__).parent
CORE = ("lake", "store", "blobs", "media")
WAYS_IN = ("metalake.server", "metalake.client", "metalake.cli")


def _core_modules() -> list[Path]:
    return sorted(p for part in CORE for p in (PACKAGE / part).rglob("*.py"))


def test_the_core_imports_no_way_in():
    found = []
    for path in _core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.relative_to(PACKAGE)}: {n}" for n in names if n.startswith(WAYS_IN)]
    assert found == []


def test_no_route_or_header_name_lives_in_the_core():
    found = []
    for path in _core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            text = node.value
            if text.startswith(("/api/", "/blobs", "/layernext")) or text.lower().startswith(
                ("x-amz-", "x-metalake-")
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {text!r}")
    assert found == []
