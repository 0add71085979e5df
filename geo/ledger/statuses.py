"""A project's statuses in the ledger, and which of them count for what: the one list.

The ledger (geo.ledger.write) moves a project along TRANSITIONS; the access policy
(geo.access) opens PUBLIC ones to everyone; ZAN accounting (geo.zan.figures)
counts ACTIVE ones as consumption of NAF land.
"""

STATUSES = ("planned", "listed", "authorised", "under_construction", "completed", "abandoned")
# A project a text lists (annex I of the arrêté of 31 May 2024 for the PENE) is ``listed``:
# the list earmarks its hectares on the envelope, but being listed is not being authorised.
# Only the ledger's list import records it; it is never a status a request can ask for.
LISTED_ONLY = ("listed",)
# status -> statuses it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "planned": ("authorised", "abandoned"),
    "listed": ("authorised", "abandoned"),
    "authorised": ("under_construction", "completed", "abandoned"),
    "under_construction": ("completed", "abandoned"),
    "completed": (),
    "abandoned": (),
}
# Open data: a planned project is the EPCI's working draft.
PUBLIC = ("listed", "authorised", "under_construction", "completed", "abandoned")
# What ZAN accounting counts as land consumed (or committed) by a project.
ACTIVE = ("authorised", "under_construction", "completed")
