"""One module per source format. Each loader takes an Engine, writes in one transaction and
returns an ImportReport; bad input raises LoaderError and writes nothing."""
