"""One package per platform, each implementing the interfaces in rollout.interfaces."""
