"""fsfer: few-shot meta-learning for facial expression recognition.

The public API (imported lazily, so ``fsfer --help`` stays quick)::

    fsfer.load_dataset(spec, image_size=64)      # ImageStore: .images uint8 [N,3,S,S], .labels, .classes, .records
    fsfer.from_tensors(images, labels, classes)  # the same from tensors you have
    fsfer.load_protocol(name_or_path)            # Protocol: base / val / novel classes and data
    fsfer.load_protocol_data(protocol, specs)    # a protocol's store and the rows of each part
    fsfer.EpisodeSampler(dataset, classes, n_way, k_shot, q_query, seed=0, ...)
    fsfer.Episode                                # support/query images and labels, global class ids
    fsfer.build_embedder(name, **cfg)            # images -> feature maps [B, C, h, w]
    fsfer.build_method(name, embedder, **cfg)    # episode -> (logits [n_query, n_way], losses)
    fsfer.Normalise()                            # uint8 -> normalised float, batched, on any device
    fsfer.compose_prototypes(method, basic_support, basic_labels, compounds)  # zero-shot compound classes
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from fsfer.errors import FsferError

__version__ = "0.3.0"

_LAZY = {
    "load_dataset": "fsfer.store",
    "from_tensors": "fsfer.store",
    "ImageStore": "fsfer.store",
    "load_protocol": "fsfer.protocols",
    "Protocol": "fsfer.protocols",
    "load_protocol_data": "fsfer.protocol_data",
    "EpisodeSampler": "fsfer.episodes",
    "Episode": "fsfer.episodes",
    "FixedEpisodes": "fsfer.episodes",
    "build_embedder": "fsfer.models",
    "build_method": "fsfer.models",
    "Normalise": "fsfer.transforms",
    "compose_prototypes": "fsfer.models.methods.compose",
    "read_records": "fsfer.datasets",
}

__all__ = ["FsferError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fsfer' has no attribute {name!r}")
