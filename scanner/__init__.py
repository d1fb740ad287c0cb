"""The ME/CFS literature scanner: PubMed ingestion, classification and curation."""

from classifiers import __version__

__all__ = ["__version__"]
