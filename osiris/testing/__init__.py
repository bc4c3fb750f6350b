"""Test helpers other packages may use too: hypothesis strategies for the IR (``osiris.testing.strategies``)."""
