"""Foncier's geospatial domain: schema, loaders, scoring and accounting rules.

Nothing here imports the web layer; functions receive the database connection.
"""
