"""Fuzz suite plumbing: count every generated case and print the total at the end of the session.

Each fuzz test feeds its cases through :func:`tests.fuzz.helpers.attempt`, which counts them here.  Array
and pickle size caps are lowered to 64 MiB for these tests, so that a mutation which declares a plausible
but large shape cannot make the suite allocate much even when the loader accepts it (the huge-shape corpus
runs separately, under the default caps, in a memory-limited subprocess).
"""

from __future__ import annotations

import time

import pytest

FUZZ_CAP_BYTES = 64 * 1024**2
STATS = {
    "cases": 0,
    "refused": 0,
    "accepted": 0,
    "seconds": 0.0,
    "cli_cases": 0,
    "cli_refused": 0,
    "cli_sane": 0,
    "cli_seconds": 0.0,
}


def pytest_configure(config):
    STATS["start"] = time.perf_counter()


@pytest.fixture(autouse=True)
def _small_caps(monkeypatch):
    monkeypatch.setenv("LIEGAN_MAX_ARRAY_BYTES", str(FUZZ_CAP_BYTES))
    monkeypatch.setenv("LIEGAN_MAX_PICKLE_BYTES", str(FUZZ_CAP_BYTES))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if STATS["cases"]:
        terminalreporter.write_sep("-", "loader fuzz suite")
        terminalreporter.write_line(
            f"fuzz cases: {STATS['cases']} generated and run ({STATS['refused']} refused with InputError, "
            f"{STATS['accepted']} accepted as valid), {STATS['seconds']:.1f} s inside the loaders"
        )
    if STATS["cli_cases"]:
        terminalreporter.write_sep("-", "command-line fuzz suite")
        terminalreporter.write_line(
            f"cli fuzz invocations: {STATS['cli_cases']} generated and run ({STATS['cli_refused']} refused with one "
            f"line, nothing touched; {STATS['cli_sane']} sane runs), {STATS['cli_seconds']:.1f} s inside liegan"
        )


@pytest.fixture(scope="session")
def fuzz_stats() -> dict:
    """The session's case counters (printed by pytest_terminal_summary)."""
    return STATS
