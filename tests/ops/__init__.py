"""Operations: the embedded PostGIS, backups, standbys, failover, pgbouncer, faults, ./dev."""
