"""Behaviour every method shares: order, gradients, overfitting one episode, adapt/predict, errors, aux losses."""

from __future__ import annotations

import pytest
import torch

from fsfer.episodes import Episode
from fsfer.errors import ConfigError, EpisodeError, ModelError
from fsfer.models import Method, all_methods, build_embedder, build_method

SIZE = 16  # 3x16x16 images: conv4 -> 8x2x2 maps
METHODS = {
    "crn": ("crn", {"image_size": SIZE}),
    "relation": ("relation", {"image_size": SIZE}),
    "protonet": ("protonet", {}),
    "matching": ("matching", {}),
    "matching-fce": ("matching", {"fce": True, "pooled": True}),
    "cosine": ("cosine", {}),
    "maml": ("maml", {"n_way": 3, "inner_steps": 1, "inner_lr": 0.1}),
    "anil": ("anil", {"n_way": 3, "inner_steps": 2, "inner_lr": 0.5}),
}
ORDER_FREE = [key for key in METHODS if key != "matching-fce"]  # FCE reads the support as an LSTM sequence


def make_method(key: str, seed: int = 0, embedder: torch.nn.Module | None = None) -> Method:
    torch.manual_seed(seed)
    name, cfg = METHODS[key]
    return build_method(name, embedder if embedder is not None else build_embedder("conv4", hidden=8), **cfg)


def test_registry_names():
    assert set(all_methods()) == {"crn", "relation", "protonet", "matching", "cosine", "simpleshot", "maml", "anil"}


def test_unknown_method_lists_known_ones():
    with pytest.raises(ModelError, match="unknown method 'snail'.*crn.*protonet.*maml"):
        build_method("snail", build_embedder("conv4"))


def test_unknown_backbone_name_is_a_model_error():
    with pytest.raises(ModelError, match="unknown embedder 'vgg16'.*conv4"):
        build_method("protonet", "vgg16")


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="method 'crn' has no option.*lamda.*lambda_dist"):
        build_method("crn", "conv4", lamda=0.7)


@pytest.mark.parametrize("key", ORDER_FREE)
def test_permuting_support_within_a_class_changes_nothing(key, make_episode):
    method = make_method(key)
    episode = make_episode()
    logits, losses = method(episode)
    order = torch.tensor([1, 0, 3, 2, 5, 4])  # swap the two shots of every class
    shuffled = Episode(
        episode.support_images[order], episode.support_labels[order],
        episode.query_images, episode.query_labels, episode.classes,
    )
    logits2, losses2 = method(shuffled)
    assert torch.allclose(logits, logits2, atol=1e-5)
    for name in losses:
        assert torch.allclose(losses[name], losses2[name], atol=1e-5)


@pytest.mark.parametrize("key", list(METHODS))
def test_logits_follow_the_query_order(key, make_episode):
    method = make_method(key)
    episode = make_episode()
    logits, _ = method(episode)
    perm = torch.tensor([4, 0, 5, 2, 1, 3])
    permuted = Episode(
        episode.support_images, episode.support_labels,
        episode.query_images[perm], episode.query_labels[perm], episode.classes,
    )
    logits2, _ = method(permuted)
    assert torch.allclose(logits2, logits[perm], atol=1e-5)


@pytest.mark.parametrize("key", list(METHODS))
def test_gradients_reach_every_trainable_parameter(key, make_episode):
    method = make_method(key)
    _, losses = method(make_episode())
    sum(losses.values()).backward()
    for name, p in method.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("key", list(METHODS))
def test_overfits_one_episode(key, make_episode):
    """3-way 2-shot 2-query of pure noise: the method must memorise which query goes with which support."""
    method = make_method(key)
    episode = make_episode(seed=3, signal=0.0)
    optimiser = torch.optim.Adam(method.parameters(), lr=0.01)
    first = None
    for _ in range(40):
        logits, losses = method(episode)
        total = sum(losses.values())
        first = total.item() if first is None else first
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    logits, losses = method(episode)
    assert torch.equal(logits.argmax(1), episode.query_labels)
    assert sum(losses.values()).item() < 0.5 * first


@pytest.mark.parametrize("key", list(METHODS))
def test_adapt_predict_equals_the_eval_forward(key, make_episode):
    method = make_method(key)
    episode = make_episode()
    method(episode)  # one train-mode step moves the BN running stats away from their defaults
    method.eval()
    logits, _ = method(episode)
    method.adapt(episode.support_images, episode.support_labels)
    predicted = method.predict(episode.query_images)
    assert predicted.shape == (6, 3) and not predicted.requires_grad
    assert torch.allclose(predicted, logits, atol=1e-5)


@pytest.mark.parametrize("key", list(METHODS))
def test_embedder_aux_losses_are_added(key, make_episode, aux_embedder):
    embedder = aux_embedder()
    method = make_method(key, embedder=embedder)
    episode = make_episode()
    _, losses = method(episode)
    assert "aux_test" in losses and losses["aux_test"].requires_grad
    if key not in ("maml",):  # maml computes them on the adapted clone's query features
        features = torch.cat([embedder(episode.support_images), embedder(episode.query_images)])
        labels = torch.cat([episode.support_global, episode.query_global])
        assert torch.allclose(losses["aux_test"], embedder.aux_losses(features, labels)["aux_test"], atol=1e-6)


@pytest.mark.parametrize("key", ["crn", "protonet", "maml"])
def test_bad_episodes_raise_episode_error(key, make_episode):
    method = make_method(key)
    episode = make_episode()
    empty_way = Episode(
        episode.support_images[:4], episode.support_labels[:4],
        episode.query_images, episode.query_labels, episode.classes,
    )
    with pytest.raises(EpisodeError, match="no image of way"):
        method(empty_way)
    out_of_range = Episode(
        episode.support_images, episode.support_labels,
        episode.query_images, episode.query_labels + 1, episode.classes,
    )
    with pytest.raises(EpisodeError, match=r"labels must lie in 0\.\.2"):
        method(out_of_range)
    raw = episode.map_images(lambda x: x.clamp(0, 1).mul(255).to(torch.uint8))
    with pytest.raises(EpisodeError, match="uint8.*normalised"):
        method(raw)
    method.eval()
    with pytest.raises(EpisodeError, match="no image of way"):
        method.adapt(episode.support_images[:2], torch.tensor([0, 2]))
    with pytest.raises(EpisodeError, match="labels must lie"):
        method.adapt(episode.support_images[:2], torch.tensor([-1, 0]))


@pytest.mark.parametrize("key", ["relation", "cosine", "anil"])
def test_predict_before_adapt_is_refused(key):
    method = make_method(key).eval()
    with pytest.raises(ModelError, match="adapt"):
        method.predict(torch.zeros(1, 3, SIZE, SIZE))


def test_aux_loss_names_must_not_clash(make_episode, aux_embedder):
    class Clashing(aux_embedder):
        def aux_losses(self, features, global_labels):
            return {"cross_entropy": features.mean()}

    method = make_method("protonet", embedder=Clashing())
    with pytest.raises(ModelError, match="cross_entropy"):
        method(make_episode())


def test_run_facts_reach_only_the_methods_that_need_them():
    crn = build_method("crn", "conv4", image_size=64, n_way=4)
    assert crn.relation.fc1.in_features == 256
    maml = build_method("maml", "conv4", image_size=64, n_way=4)
    assert maml.head.linear.out_features == 4
    protonet = build_method("protonet", "conv4", image_size=64, n_way=4)
    assert not protonet.pooled
