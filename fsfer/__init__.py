"""fsfer: few-shot meta-learning for facial expression recognition."""

from fsfer.errors import FsferError

__version__ = "0.1.0"

__all__ = ["FsferError", "__version__"]
