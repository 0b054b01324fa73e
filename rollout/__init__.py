"""Rollouts: the interfaces to the systems a deploy drives, and their implementations."""
