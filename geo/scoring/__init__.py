"""Ranking parcels for industrial reconversion (model, profiles, bulk refresh, sites)."""
