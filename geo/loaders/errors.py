"""Errors raised by loaders: a readable message for a person, no stack trace needed."""


class LoaderError(Exception):
    """The input cannot be imported; nothing was written."""
