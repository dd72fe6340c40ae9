"""unmet: find the unmet customer needs in what customers write."""

__version__ = "0.1.0"
