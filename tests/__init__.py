"""Foncier's tests, by subject (docs/development.md, "Tests")."""
