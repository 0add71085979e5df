"""The loaders, one publisher's format each, `foncier sync` and the command's errors."""
