"""`python -m metalake` runs the command line."""

from metalake.cli import run

run()
