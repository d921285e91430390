"""Unit tests: the domain and the store, without a screen."""
