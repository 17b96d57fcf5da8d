"""Episodes: the Episode dataclass, the episodic sampler, fixed episode sets."""

from fsfer.episodes.episode import Episode

__all__ = ["Episode"]
