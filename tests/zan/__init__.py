"""ZAN trajectories and their rule sets."""
