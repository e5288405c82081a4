"""Tests of loopline.store."""
