"""The console's claim on its data folder, within one process: the lock, the
socket's name, and letting go (two processes: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimdesk.ui.instance import LOCK_FILE, Claim, ConsoleGuard, server_name

pytestmark = pytest.mark.gui


def test_the_socket_name_is_short_stable_and_per_folder(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 8)

    name = server_name(deep)

    assert name == server_name(deep / ".")
    assert name != server_name(tmp_path / "other")
    assert name.startswith("mimdesk-console-")
    assert len(name) < 60  # a Unix socket path has about 100 bytes in all


def test_the_first_claim_holds_the_folder_until_released(qtbot, tmp_path: Path) -> None:
    guard = ConsoleGuard(tmp_path / "data")

    outcome = guard.claim()
    held = (tmp_path / "data" / LOCK_FILE).exists()
    guard.release()

    assert outcome.claim is Claim.FIRST
    assert held
    assert not (tmp_path / "data" / LOCK_FILE).exists()
    again = ConsoleGuard(tmp_path / "data")
    assert again.claim().claim is Claim.FIRST
    again.release()


def test_a_folder_that_cannot_be_made_runs_unguarded(qtbot, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    guard = ConsoleGuard(tmp_path / "data")

    assert guard.claim().claim is Claim.UNGUARDED
    guard.release()
