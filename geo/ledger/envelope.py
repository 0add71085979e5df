"""Former home of the ledger, kept for one release so that callers can move: the NAF
computation is geo.ledger.naf, writing the ledger geo.ledger.write, what the ledger says
geo.ledger.reports. Import from those."""

from geo.ledger.naf import HECTARE_PLACES, hectares, naf_consumption
from geo.ledger.reports import (
    ALERT_THRESHOLDS,
    GROUPS,
    Balance,
    balance,
    envelope_report,
    get_project,
    list_projects,
)
from geo.ledger.write import (
    KINDS,
    VISIBLE_CHARACTER,
    EnvelopeExhausted,
    Placement,
    ProjectDraft,
    change_status,
    correct,
    create_project,
    lock_envelope,
    record_listed_project,
    says_something,
)

_naf_consumption = naf_consumption

__all__ = [
    "ALERT_THRESHOLDS",
    "GROUPS",
    "HECTARE_PLACES",
    "KINDS",
    "VISIBLE_CHARACTER",
    "Balance",
    "EnvelopeExhausted",
    "Placement",
    "ProjectDraft",
    "balance",
    "change_status",
    "correct",
    "create_project",
    "envelope_report",
    "get_project",
    "hectares",
    "list_projects",
    "lock_envelope",
    "naf_consumption",
    "record_listed_project",
    "says_something",
]
