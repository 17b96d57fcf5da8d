"""Local weights: torchvision ResNet-18 and face.evoLVe IR-50 layouts, wrappers, partial files, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from fsfer.errors import ModelError
from fsfer.models import build_embedder
from fsfer.models.embedders.irse import IRBackbone


def resnet18_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """A torchvision ResNet-18 state dict with recognisable (seeded) values, fc included."""
    torch.manual_seed(seed)
    return torchvision.models.resnet18(weights=None, num_classes=12).state_dict()


def ir50_state(seed: int = 2) -> dict[str, torch.Tensor]:
    """A face.evoLVe-layout IR-50 state dict: input_layer.*, body.0-23.*, output_layer.* (BN, Linear, BN1d)."""
    torch.manual_seed(seed)
    state = dict(IRBackbone().state_dict())
    for value in state.values():
        if value.is_floating_point():
            value.normal_()
    state.update(
        {
            "output_layer.0.weight": torch.ones(512),
            "output_layer.0.bias": torch.zeros(512),
            "output_layer.3.weight": torch.randn(512, 512 * 7 * 7),
            "output_layer.3.bias": torch.zeros(512),
            "output_layer.4.weight": torch.ones(512),
        }
    )
    return state


def save(path: Path, data: object) -> str:
    torch.save(data, path)
    return str(path)


def trunk_keys(state: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in state if not k.startswith("fc.")]


def test_resnet18_file_wrapped_and_prefixed_loads_into_every_resnet_backbone(tmp_path):
    state = resnet18_state()
    # the DAN/DACL MS-Celeb-1M files: a "state_dict" key, keys with a DataParallel "module." prefix
    path = save(tmp_path / "msceleb.pth", {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}})
    n = len(trunk_keys(state))
    for name, trunks in (
        ("resnet18", lambda m: [m]),
        ("dan", lambda m: [m.fcn.trunk]),
        ("dacl", lambda m: [m.trunk]),
        ("vtff", lambda m: [m.rgb_branch, m.lbp_branch]),
    ):
        cfg = {"hidden": (16, 8, 4)} if name == "dacl" else {"depth": 1, "embed_dim": 32, "num_heads": 2} if name == "vtff" else {}
        model = build_embedder(name, weights=path, **cfg)
        report = model.weights_report
        assert report.layout == "torchvision ResNet-18"
        assert report.loaded == n * len(trunks(model)), name
        assert report.missing == () and report.unexpected == () and report.mismatched == ()
        assert set(report.ignored) == {"fc.weight", "fc.bias"}
        for trunk in trunks(model):
            assert torch.equal(trunk.conv1.weight, state["conv1.weight"])
            assert torch.equal(trunk.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
        if name != "resnet18":
            assert report.untouched > 0  # heads / attention / transformer stay at random init


def test_partial_and_mismatched_files_load_what_fits_and_say_so(tmp_path):
    state = {k: v for k, v in resnet18_state().items() if not k.startswith("layer4.")}
    state["conv1.weight"] = torch.randn(64, 3, 5, 5)  # wrong shape
    state["extra.thing"] = torch.zeros(3)
    model = build_embedder("dan", weights=save(tmp_path / "partial.pth", state))
    report = model.weights_report
    assert report.loaded == len(trunk_keys(state)) - 2  # not conv1.weight, not extra.thing
    assert report.missing and all(k.startswith("fcn.trunk.") for k in report.missing)
    assert "fcn.trunk.layer4.0.conv1.weight" in report.missing and "fcn.trunk.conv1.weight" in report.missing
    assert report.unexpected == ("extra.thing",)
    assert len(report.mismatched) == 1 and "conv1.weight" in report.mismatched[0]
    assert "missing" in report.summary()


def test_ir50_file_loads_into_irse50_and_the_transfer_stem(tmp_path):
    state = ir50_state()
    path = save(tmp_path / "backbone_ir50_ms1m_epoch120.pth", state)
    body_keys = [k for k in state if not k.startswith("output_layer.")]
    ir = build_embedder("irse50", weights=path)
    assert ir.weights_report.layout == "face.evoLVe IR-50"
    assert ir.weights_report.loaded == len(body_keys) and ir.weights_report.missing == ()
    assert all(k.startswith("output_layer.") for k in ir.weights_report.ignored)
    assert torch.equal(ir.body[23].res_layer[1].weight, state["body.23.res_layer.1.weight"])
    transfer = build_embedder("transfer", weights=path, depth=1)
    report = transfer.weights_report
    stem_keys = [k for k in body_keys if k.startswith("input_layer.") or int(k.split(".")[1]) < 21]
    assert report.loaded == len(stem_keys) and report.missing == ()
    assert "body.21.res_layer.1.weight" in report.ignored and "output_layer.3.weight" in report.ignored
    assert torch.equal(transfer.stem.body[20].res_layer[4].weight, state["body.20.res_layer.4.weight"])


def test_an_embedders_own_state_dict_round_trips(tmp_path):
    torch.manual_seed(0)
    dan = build_embedder("dan")
    path = save(tmp_path / "dan.pth", dan.state_dict())
    again = build_embedder("dan", weights=path)
    assert again.weights_report.layout == "own state_dict"
    assert again.weights_report.missing == () and again.weights_report.loaded == len(dan.state_dict())
    for (name, a), (_, b) in zip(dan.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name


def test_bad_files_are_model_errors_naming_the_file_and_the_layout(tmp_path):
    with pytest.raises(ModelError, match=r"nowhere\.pth.*does not exist"):
        build_embedder("resnet18", weights=str(tmp_path / "nowhere.pth"))
    foreign = save(tmp_path / "foreign.pth", {"encoder.weight": torch.zeros(3)})
    with pytest.raises(ModelError, match=r"foreign\.pth.*torchvision ResNet-18.*encoder\.weight"):
        build_embedder("dan", weights=foreign)
    with pytest.raises(ModelError, match=r"foreign\.pth.*face\.evoLVe IR-50"):
        build_embedder("irse50", weights=foreign)
    resnet_file = save(tmp_path / "r18.pth", resnet18_state())
    with pytest.raises(ModelError, match="IR-50"):
        build_embedder("transfer", weights=resnet_file, depth=1)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=r"junk\.pth"):
        build_embedder("resnet18", weights=str(tmp_path / "junk.pth"))
    assert build_embedder("resnet18").weights_report is None
