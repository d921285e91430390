"""Tests of mimdesk.domain."""
