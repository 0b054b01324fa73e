"""Render stacks offline under Pulumi mocks; later: normalise, compare, score, drift."""
