"""Fault-injection suites: crashes, a PostgreSQL restart, many writers, tampering and
fuzzing. Every test here is marked ``fault`` (and ``pg``); run them with
``python -m pytest -q tests/fault -s`` to see the figures each one prints."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "fault: fault injection (kill -9, database restart, tampering, fuzzing); slow-ish",
    )
