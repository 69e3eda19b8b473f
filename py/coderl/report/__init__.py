"""The comparison report: tables (terminal + markdown), plots (PNG), training-log parsing."""
