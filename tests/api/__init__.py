"""The HTTP API: read routes, limits, hostile requests, CORS, exports, saved searches."""
