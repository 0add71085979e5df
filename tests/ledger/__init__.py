"""The project ledger: the envelope, hostile input, properties, its API, the audit chain, access."""
