"""The territory levels, in one table: where each level's rows live, how its code is
written, which communes are its members, and which column of a project names it.

ZAN trajectories (geo.zan.trajectories), envelope reports (geo.ledger.reports), the access
policy and tokens (geo.access, app.security.tokens), the searches' and routers'
parameters, the loaders' checks and the partitions all read this table; the parcel id's
format (PARCEL_ID_PATTERN) is written from the commune's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    name: str
    table: str
    key: str  # the table's code column
    # how a code of this level is written (anchored regular expression)
    pattern: str
    # SQL over ``commune c``: the communes of the territory :code
    members: str
    # the column of a located project that names its territory at this level (None: none)
    project_column: str | None = None

    def is_code(self, code: str) -> bool:
        return re.fullmatch(self.pattern, code) is not None

    def name_sql(self, code: str = ":code") -> str:
        """SQL: the name of the territory whose code is the SQL ``code``."""
        return f"SELECT name FROM {self.table} WHERE {self.key} = {code}"


# A SIREN (the register of companies and public bodies): an EPCI's code, a parcel owner's.
SIREN_PATTERN = r"^[0-9]{9}$"


def unanchored(pattern: str) -> str:
    """A code pattern without its anchors, to write it inside a longer pattern."""
    return pattern.removeprefix("^").removesuffix("$")


LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        # INSEE: the département's two characters (2A/2B for Corsica; overseas 97x…),
        # then three digits
        Level("commune", "commune", "insee", r"^(?:[0-9]{2}|2[AB])[0-9]{3}$", "c.insee = :code"),
        Level("epci", "epci", "siren", SIREN_PATTERN, "c.epci_siren = :code", "epci_siren"),
        Level(
            "departement",
            "departement",
            "code",
            # 91, 2A, 974; 987 (the collectivités d'outre-mer, whose communes are 98xxx)
            r"^(?:[0-9]{2}|2[AB]|9[78][0-9])$",
            "c.departement_code = :code",
            "departement_code",
        ),
        Level("region", "region", "code", r"^[0-9]{2}$", "c.region_code = :code", "region_code"),
        Level(
            "territoire_industrie",
            "territoire_industrie",
            "id",
            r"^[A-Za-z0-9_-]{1,20}$",
            # its communes as resolved by the loader (EPCI, listed communes, outline)
            "c.insee IN (SELECT insee FROM territoire_industrie_commune "
            "WHERE territoire_industrie_id = :code)",
        ),
    )
}
LEVEL_NAMES = tuple(LEVELS)

# A cadastre parcel's id: its commune's INSEE code, the prefix (3 digits: 000 but in
# communes merged since), the section (2 characters) and the number (4 digits).
PARCEL_ID_PATTERN = f"^{unanchored(LEVELS['commune'].pattern)}[0-9]{{3}}[0-9A-Z]{{2}}[0-9]{{4}}$"
