"""Routes Qt's own messages into Python logging, under the 'qt' logger."""

from __future__ import annotations

import logging

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

log = logging.getLogger("qt")

_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}

# Messages known to be harmless, kept at debug: the offscreen platform (used by
# `mimdesk screenshot`) cannot pass size hints to a window manager it lacks.
HARMLESS = ("This plugin does not support propagateSizeHints()",)


def level(kind: QtMsgType, message: str) -> int:
    """The logging level for a Qt message of this kind."""
    if message.startswith(HARMLESS):
        return logging.DEBUG
    return _LEVELS.get(kind, logging.WARNING)


def _handle(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    log.log(level(kind, message), "%s", message)


def install() -> None:
    qInstallMessageHandler(_handle)
