"""One module per source format: each turns source rows into Problem records (no I/O policy here)."""
