"""Episodes: the Episode dataclass, the seeded sampler, fixed episode sets, the learn2learn bridge."""

from fsfer.episodes.episode import Episode
from fsfer.episodes.fixed import FixedEpisodes, load_episodes, save_episodes
from fsfer.episodes.sampler import EpisodeIndex, EpisodeSampler, episode_generator, gather

__all__ = [
    "Episode",
    "EpisodeIndex",
    "EpisodeSampler",
    "FixedEpisodes",
    "episode_generator",
    "gather",
    "load_episodes",
    "save_episodes",
]
