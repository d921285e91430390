"""The application object carries the MIMDesk icon, in every size desktops ask for."""

from __future__ import annotations

from mimdesk.ui.qapp import ICON_SIZES, application


def test_the_window_icon_comes_in_every_rendered_size(qapp) -> None:
    app = application()

    sizes = {(s.width(), s.height()) for s in app.windowIcon().availableSizes()}

    assert sizes == {(n, n) for n in ICON_SIZES}
