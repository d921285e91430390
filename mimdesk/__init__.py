"""MIMDesk: an offline-first desktop command centre for major IT incidents."""

__version__ = "0.1.0"
