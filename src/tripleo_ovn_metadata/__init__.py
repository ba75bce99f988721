"""TripleO deployment bundle tooling for the containerized OVN metadata agent."""

__version__ = "0.1.0"
