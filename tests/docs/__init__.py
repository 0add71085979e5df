"""The documentation's figures and searches, recomputed; the layout it describes."""
