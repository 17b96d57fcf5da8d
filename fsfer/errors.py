"""The one exception hierarchy of fsfer.

Every error a user can cause is an :class:`FsferError` whose message names the bad
thing (a file, an option, a class) and the fix. Nothing below the CLI prints or
exits; ``fsfer.cli`` turns these into one line on stderr and exit status 2.
"""

from __future__ import annotations


class FsferError(Exception):
    """Base class of every error fsfer raises on bad input."""


class SpecError(FsferError):
    """A data spec (``FORMAT:ROOT?options``) that cannot be understood."""


class DataError(FsferError):
    """A dataset on disk that does not match its official layout."""


class ConfigError(FsferError):
    """A bad option value, configuration file or combination of options."""


class EpisodeError(FsferError):
    """An episode that cannot be built or replayed from the data at hand."""


class ModelError(FsferError):
    """An unknown model name, a bad checkpoint or weights that do not fit."""


class TrainingError(FsferError):
    """A training run that cannot go on (a NaN or infinite loss, a broken resume)."""


class FsferWarning(UserWarning):
    """Something the user should know that does not stop the work (e.g. skipped images)."""


class Interrupted(FsferError):
    """A run stopped by SIGINT or SIGTERM after saving its state; the CLI prints it and exits 130."""
