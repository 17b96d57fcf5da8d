"""The public Python API of the README, end to end on the small default data."""

from __future__ import annotations

import torch

import fsfer


def test_readme_api_flow() -> None:
    store = fsfer.load_dataset("synth?subjects=4,per_subject=1", image_size=32)
    assert store.images.shape[1:] == (3, 32, 32) and store.images.dtype == torch.uint8
    assert len(store.classes) == 22 and store.labels.max() == 21
    protocol = fsfer.load_protocol("synth-basic-to-compound")
    sampler = fsfer.EpisodeSampler(store, protocol.classes("novel"), n_way=5, k_shot=1, q_query=2, seed=0)
    episode = sampler[0].map_images(fsfer.Normalise())
    assert isinstance(episode, fsfer.Episode) and episode.support_images.dtype == torch.float32
    method = fsfer.build_method("protonet", fsfer.build_embedder("conv4"))
    logits, losses = method(episode)
    assert logits.shape == (10, 5) and set(losses) == {"cross_entropy"}
    method.eval()
    method.adapt(episode.support_images, episode.support_labels)
    assert method.predict(episode.query_images).shape == (10, 5)


def test_from_tensors_is_a_dataset_for_the_sampler() -> None:
    ds = fsfer.from_tensors(torch.zeros(8, 3, 4, 4, dtype=torch.uint8), torch.arange(4).repeat(2), list("abcd"))
    ep = fsfer.EpisodeSampler(ds, None, 4, 1, 1)[0]
    assert ep.support_images.shape == (4, 3, 4, 4) and sorted(ep.classes.tolist()) == [0, 1, 2, 3]
