"""The parcel ranking, candidate sites, profiles and zoning classes."""
