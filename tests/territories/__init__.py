"""Territory codes and the département of a commune."""
