"""The incident model: pure Python, no Qt, no I/O, no clock reads."""
