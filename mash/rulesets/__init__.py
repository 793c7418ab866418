"""Data shipped with the package: the default threshold ruleset (`default.yaml`)."""
