"""Errors raised by loaders: a readable message for a person, no stack trace needed."""

from geo.errors import Invalid


class LoaderError(Invalid):
    """The input cannot be imported; nothing was written."""
