"""Errors raised when a command breaks a rule of the incident model."""


class DomainError(ValueError):
    """A command was refused; the message says why, in the operator's words."""


class TimeInputError(DomainError):
    """A time typed by a person could not be read as one exact instant."""
