"""Moving a store to a new data folder, as the README says: a backup, then a
restore into the empty folder; the journal verifies there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import Run


def test_a_store_moves_to_an_empty_folder_through_a_backup(
    mimdesk: Run, tmp_path: Path, config: Path
) -> None:
    declared = mimdesk("incident", "declare", "--title", "Moved", "--severity", "3")
    backup = mimdesk("store", "backup").stdout.strip()
    new = tmp_path / "elsewhere" / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}

    def there(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mimdesk", "--data-dir", str(new),
                   "--config", str(config), *args]  # fmt: skip
        return subprocess.run(
            command, capture_output=True, text=True, env=env, check=False
        )

    restored = there("store", "restore", backup)
    verified = there("journal", "verify")
    listed = there("incident", "list")

    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == f"restored {new / 'mimdesk.sqlite'} from {backup}\n"
    assert verified.stdout.startswith("journal ok: 2 events, chain intact")
    assert declared.stdout.strip() in listed.stdout
