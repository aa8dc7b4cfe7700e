"""Typed domain errors; handlers map each to a friendly template."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses; `code` names the template to show."""

    code = "error"

    def __init__(self, code: str | None = None) -> None:
        super().__init__(code or self.code)
        if code:
            self.code = code


class InvalidChoice(DomainError):
    """A value is not one of the allowed choices (a forged or stale button)."""

    code = "invalid_choice"


class LinkInvalid(DomainError):
    """A guardian link or invite code is unknown, used or expired (code says which)."""

    code = "link_unknown"


class NotAllowed(DomainError):
    """The acting user may not do this."""

    code = "not_allowed"
