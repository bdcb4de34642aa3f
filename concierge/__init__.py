"""Apoena: an AI gate concierge for Brazilian condominiums, answering Asterisk AudioSocket calls."""

__version__ = "0.1.0"
