"""Tests that run the real `mimdesk` command and real child processes."""
