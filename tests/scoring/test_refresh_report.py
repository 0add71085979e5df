"""What a score refresh reports: its rate over the scoring alone, the pairing of touching
parcels (once per commune after its import) said apart."""

from __future__ import annotations

from geo.scoring.adjacency import AdjacencyReport
from geo.scoring.refresh import RefreshReport


def test_the_pairing_of_touching_parcels_is_reported_apart() -> None:
    report = RefreshReport(1000, 3000, 3.0, AdjacencyReport(communes=4, pairs=2500, seconds=1.0))
    assert report.scoring_seconds == 2.0
    scored, paired = report.lines()
    assert "in 2.0 s (500 parcels/s)" in scored
    assert "4 communes" in paired and "2500 pairs in 1.0 s" in paired


def test_a_plain_rescore_says_nothing_of_pairs() -> None:
    report = RefreshReport(1000, 3000, 2.0, AdjacencyReport(communes=0, pairs=0, seconds=0.01))
    assert len(report.lines()) == 1
    assert "(503 parcels/s)" in report.lines()[0]
