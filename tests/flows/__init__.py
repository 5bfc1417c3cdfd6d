"""Tests of the flow engine, loader and checker (gateway/flows)."""
