"""End-to-end CNN motility regressors (torch imported lazily)."""
