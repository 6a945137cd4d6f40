"""Reports over several features (docs/reports.md): above the lighting and the radio, which
never import it (pyproject.toml, the import-linter contracts)."""
