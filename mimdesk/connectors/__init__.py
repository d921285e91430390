"""Clients for remote systems (monitoring, chat, email); no Qt, typed errors."""
