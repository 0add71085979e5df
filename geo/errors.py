"""The domain's error vocabulary: what went wrong, in the domain's words, without HTTP.

Every refusal of ``geo`` is one of four kinds; the API maps each kind to a status once
(``app.api.errors.DOMAIN_STATUS``) and the CLI prints the message. A module may name a narrower
kind (``GeometryError``, ``EnvelopeExhausted``…) as a subclass when callers need to tell it
apart; the kind, not the subclass, decides the answer.
"""


class DomainError(Exception):
    """A refusal of the domain; the message says why, for a person."""


class Invalid(DomainError, ValueError):
    """The input cannot be accepted as given (a malformed value, an unknown option)."""


class NotFound(DomainError, LookupError):
    """The thing asked for does not exist (or is not visible to who asks)."""


class Conflict(DomainError):
    """The input is well formed but the current state forbids it (RFC 9110 §15.5.10's sense):
    a status a project cannot move to, a correction of what it does not hold, a date before
    its last entry, an envelope with too little left."""


class Denied(DomainError):
    """The principal's role or territory does not allow this."""
