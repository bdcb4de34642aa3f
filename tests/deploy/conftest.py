"""The `systemd` marker: docs/apoena.service run under a real systemd, only when APOENA_SYSTEMD=1."""

from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "systemd: boots systemd in a container (root, systemd-nspawn) to run docs/apoena.service; APOENA_SYSTEMD=1, not in CI"
    )
