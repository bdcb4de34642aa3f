"""The `asterisk` marker: tests against a real Asterisk build, run only when APOENA_ASTERISK names its prefix."""

from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "asterisk: runs against a real Asterisk (APOENA_ASTERISK=PREFIX, built by ../shared/asterisk/build.sh); not in CI"
    )
