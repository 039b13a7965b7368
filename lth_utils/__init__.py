"""The Lottery Ticket Book helpers."""
__version__ = "0.1.0"
