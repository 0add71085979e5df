"""Place search (GET /places): time per search on the full administrative reference.

Usage: ./dev db && .venv/bin/python -m bench.places [--repeat 50]
Prints, for each query, the matches scanned and the median and 95th percentile time of
``search_places`` on the configured database (the demo's: every French commune, EPCI,
département and région).
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import text

from app.db import make_engine
from app.services.places import search_places
from app.settings import get_settings

# specific names, codes, a common word (4,400 communes), a two-character code
QUERIES = ("paray", "Épinay-sur-Orge", "91216", "200056232", "paris saclay", "saint", "91")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    settings = get_settings()
    engine = make_engine(settings.url_for(), settings.statement_timeout_ms)
    print(f"{'query':<18} {'matches':>8} {'median ms':>10} {'p95 ms':>8}")
    with engine.connect() as conn:
        for q in QUERIES:
            matches = conn.execute(
                text(
                    "SELECT count(*) FROM commune "
                    "WHERE name_folded LIKE '%' || place_fold(:q) || '%'"
                ),
                {"q": q},
            ).scalar_one()
            search_places(conn, q)  # warm
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                search_places(conn, q)
                times.append((time.perf_counter() - started) * 1000)
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"{q:<18} {matches:>8} {statistics.median(times):>10.1f} {p95:>8.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
