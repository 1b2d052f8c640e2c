"""The core: models every stage shares and the errors they raise. No I/O, no clients, no clocks at import."""
