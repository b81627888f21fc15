"""The caches' bounds are settings (``LEDGER_CACHE_…``): defaults, units, and one clear
line for a value that cannot be used."""

from __future__ import annotations

import pytest

from ledger.cli import main
from ledger.config import MIB, BadSetting, Caches, Settings


def test_defaults_when_nothing_is_set() -> None:
    assert Caches.from_env({}) == Caches()
    assert Caches().agreements == 128 and Caches().projection_bytes == 32 * MIB


def test_entries_and_mebibytes_are_read() -> None:
    caches = Caches.from_env({"LEDGER_CACHE_AGREEMENTS": "12",
                              "LEDGER_CACHE_PROJECTION_MIB": " 3 ",
                              "LEDGER_CACHE_STREAM_ENTRIES_MIB": "1",
                              "LEDGER_CACHE_PUBLIC_KEYS": "7"})
    assert caches.agreements == 12 and caches.public_keys == 7
    assert caches.projection_bytes == 3 * MIB and caches.stream_entries_bytes == MIB
    assert caches.rules_bytes == Caches().rules_bytes


def test_settings_carry_the_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_CACHE_RULES_AGREEMENTS", "5")
    assert Settings.from_env().caches.rules_agreements == 5


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "1e3"])
def test_a_bad_value_is_one_clear_line(value: str) -> None:
    with pytest.raises(BadSetting) as caught:
        Caches.from_env({"LEDGER_CACHE_AGREEMENTS": value})
    assert str(caught.value) == (f"LEDGER_CACHE_AGREEMENTS must be a positive whole number, "
                                 f"got {value!r}")


def test_serve_refuses_a_bad_value_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEDGER_CACHE_STREAM_MIB", "lots")
    assert main(["serve", "--port", "0"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.endswith("LEDGER_CACHE_STREAM_MIB must be a positive whole number, got 'lots'")
    assert "\n" not in err
