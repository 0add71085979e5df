"""Foncier web service and command line: a thin layer over the domain logic in `geo`."""
