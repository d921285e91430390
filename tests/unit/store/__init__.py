"""Tests of mimdesk.store."""
