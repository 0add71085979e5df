"""``python -m app.cli``: the same as the ``foncier`` command."""

from app.cli import main

main()
