"""Email addresses as one person's key: validated and normalised the same way everywhere. Pure."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalise_email(raw: str) -> str:
    """The address as stored; ValueError (with email_validator's reason) when it is not one."""
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    # One person, one address: case never distinguishes mailboxes in practice.
    return result.normalized.lower()
