"""MASH triage event service: contacts about children, screened and routed on Kafka."""

__version__ = "0.1.0"
