"""`mimdesk screenshot` as scripts use it: the picture, or an error that names the
output path, and no harmless Qt chatter on stderr."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Run


def test_a_console_screenshot_prints_nothing_on_stderr(
    mimdesk: Run, tmp_path: Path
) -> None:
    shot = tmp_path / "console.png"

    result = mimdesk("screenshot", "--view", "console", "-o", str(shot))

    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 10_000
    assert "propagateSizeHints" not in result.stderr
    assert "WARNING qt" not in result.stderr


@pytest.mark.parametrize("name", ["x.weird", "x"])
def test_an_output_that_is_not_png_is_refused_before_drawing(
    mimdesk: Run, tmp_path: Path, name: str
) -> None:
    result = mimdesk("screenshot", "-o", str(tmp_path / name))

    assert result.returncode == 2
    assert result.stderr.startswith("error: --output must end in .png")
    assert "store" not in result.stderr
    assert not (tmp_path / name).exists()


def test_an_output_under_a_file_names_the_path(mimdesk: Run, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("", encoding="utf-8")

    result = mimdesk("screenshot", "-o", str(plain / "wall.png"))

    assert result.returncode == 2
    assert result.stderr == (
        f"error: --output {plain / 'wall.png'}: {plain} is not a folder\n"
    )
