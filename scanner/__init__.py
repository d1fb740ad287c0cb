"""The ME/CFS literature scanner: PubMed ingestion, classification and curation."""

__version__ = "0.1.0"
