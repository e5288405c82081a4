"""Tests of loopline.artifacts."""
