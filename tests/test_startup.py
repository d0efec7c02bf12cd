"""Start-up: `import metalake` and the CLI load the heavy libraries only when a command needs them.

Times belong in `bench/startup.py`; this checks which modules a fresh interpreter has loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {"sqlalchemy", "alembic", "httpx", "uvicorn", "fastapi", "boto3", "av", "PIL", "lark"}
REPORT = "import json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
HELP = "import metalake.cli as c\ntry:\n    c.main(['--help'])\nexcept SystemExit:\n    pass"
REMOTE = "from metalake import Client\nClient('http://127.0.0.1:1', 'k', 's').close()"


def loaded_after(code: str) -> list[str]:
    """The HEAVY top-level packages a fresh interpreter has imported after running `code`."""
    program = [sys.executable, "-c", f"{code}\n{REPORT}"]
    done = subprocess.run(program, capture_output=True, text=True, check=True)
    return sorted(set(json.loads(done.stdout.splitlines()[-1])) & HEAVY)


@pytest.mark.parametrize(
    ("code", "loaded"),
    [
        ("import metalake", []),
        ("import metalake.cli", []),
        ("from metalake import ItemNotFoundError, MediaProbeError, JobTimeoutError", []),
        (HELP, []),
        # The SDK brings its lake's rules (SQLAlchemy, the query parser), never a server or media.
        ("from metalake import Client", ["lark", "sqlalchemy"]),
        (REMOTE, ["httpx", "lark", "sqlalchemy"]),
    ],
)
def test_heavy_modules_load_only_when_needed(code: str, loaded: list[str]):
    assert loaded_after(code) == loaded


def test_client_is_the_same_class_however_imported():
    import metalake
    from metalake.client import Client as from_package
    from metalake.client.client import Client

    assert metalake.Client is from_package is Client
