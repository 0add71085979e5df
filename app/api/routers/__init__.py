"""One router per resource; assembled in app.api.main."""
