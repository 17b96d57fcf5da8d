"""Models: embedders (images -> feature maps) and few-shot methods (episodes -> logits and losses).

Build them by name with :func:`build_embedder` and :func:`build_method`.
"""

from fsfer.models.methods.base import Method
from fsfer.models.registry import all_embedders, all_methods, build_embedder, build_method

__all__ = ["Method", "all_embedders", "all_methods", "build_embedder", "build_method"]
