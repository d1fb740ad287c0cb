"""PubMed access: E-utilities client pieces and the PubMed XML parser."""
