"""The statutory figures, live (Prometheus) and for any period (`mash report`), from one source."""
