"""Size and cost of an embedder: parameters, multiply-accumulates, output shape, and the papers' figures.

MACs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` on a single image
in eval mode, as ``MACs = FLOPs / 2``. It counts the matrix products: convolutions, linear
layers and the attention matmuls (``Q K^T`` and ``A V``); normalisation, activations,
pooling, element-wise products and LBP are not counted (the usual convention of the
papers' "FLOPs", which are MACs); attention runs on PyTorch's math backend while counting. The model is built and run on PyTorch's ``meta`` device:
shapes only, no memory and no arithmetic, so even 100M-parameter backbones at 224 px are
profiled in well under a second (and the attention matmuls are seen as matmuls).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from fsfer.errors import ModelError


@dataclass(frozen=True)
class PaperFigures:
    """What a paper (or the official code, counted) says about a backbone; ``None`` where nothing is published."""

    citation: str
    input_size: int
    params: float | None = None
    params_counts: str = ""
    macs: float | None = None
    macs_note: str = ""
    verified: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The figures of ``/work/shared/reference/backbones.md`` (params and MACs in units, not millions).
PAPERS: dict[str, PaperFigures] = {
    "conv4": PaperFigures(
        citation="Sung et al., Learning to Compare: Relation Network, CVPR 2018 (CRN: Zhu et al., ESWA 2022)",
        input_size=84,
        verified="no size figure published",
    ),
    "conv4-pool": PaperFigures(
        citation="Snell et al., Prototypical Networks for Few-shot Learning, NeurIPS 2017",
        input_size=84,
        verified="no size figure published",
    ),
    "resnet12": PaperFigures(
        citation="Lee et al., MetaOptNet, CVPR 2019; Oreshkin et al., TADAM, NeurIPS 2018",
        input_size=84,
        verified="no size figure in backbones.md",
    ),
    "resnet18": PaperFigures(
        citation="He et al., Deep Residual Learning for Image Recognition, CVPR 2016 (torchvision resnet18)",
        input_size=224,
        params=11_176_512,
        params_counts="trunk without avgpool/fc (11.69M with the 1000-class fc)",
        macs=1_813_561_344,
        macs_note="trunk at 224 (the paper's 1.8 GFLOPs are multiply-adds)",
        verified="counted from torchvision",
    ),
    "irse50": PaperFigures(
        citation="Deng et al., ArcFace, CVPR 2019; face.evoLVe backbone/model_irse.py (IR-50)",
        input_size=112,
        params=30_730_000,
        params_counts="body without the output layer (43.57M with it)",
        macs=6_280_000_000,
        macs_note="body at 112",
        verified="counted from face.evoLVe's code",
    ),
    "dan": PaperFigures(
        citation="Wen et al., Distract Your Attention (DAN), Biomimetics 8(2):199, 2023; arXiv 2109.07270",
        input_size=224,
        params=19_720_000,
        params_counts="7-class classifier: trunk + 4 heads + Linear 512->7 + BN1d(7), without the affinity centres",
        macs=2_230_000_000,
        macs_note="the paper's '2.23G FLOPs' count MACs: 1.81G trunk + 0.41G heads",
        verified="params and MACs match a count of the official code",
    ),
    "dacl": PaperFigures(
        citation="Farzaneh and Qi, Deep Attentive Center Loss (DACL), WACV 2021",
        input_size=224,
        params=103_000_000,
        params_counts="training graph: ResNet-18 + attention branch (91.86M) + fc; deployed: 11.18M (plain ResNet-18)",
        macs=1_813_561_344,
        macs_note="inference (ResNet-18 trunk); the attention branch adds about 0.09G in training",
        verified="counted from the official code; no figure in the paper's abstract",
    ),
    "vtff": PaperFigures(
        citation="Ma, Sun, Li, Visual Transformers and Attentional Selective Fusion (VTFF), IEEE TAC 14(2), 2023",
        input_size=224,
        params=70_700_000,
        params_counts="unverified: counted from the APViT authors' coarse port (8 layers, 8 heads, MLP 3)",
        macs=None,
        macs_note="no figure published",
        verified="no official code; architecture details unverified",
    ),
    "transfer": PaperFigures(
        citation="Xue, Wang, Guo, TransFER, ICCV 2021",
        input_size=112,
        params=65_200_000,
        params_counts="7-class network: IR-50 stages 1-3 + 2 LANets + projection + ViT-FER + Linear 768->7",
        macs=15_730_000_000,
        macs_note="cited 15.73G; a count of the official code gives 15.3 GMACs",
        verified="params match a count of the official (Paddle) code",
    ),
}


@dataclass
class Profile:
    """An embedder's size at one input size (``output_shape`` is ``(C, h, w)`` for one image)."""

    name: str
    image_size: int
    params: int
    params_aux: int
    macs: int
    output_shape: tuple[int, int, int]
    macs_by_op: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output_shape"] = list(self.output_shape)
        return data


def count_parameters(module: nn.Module) -> int:
    """Number of parameter elements (shared parameters once)."""
    return sum(p.numel() for p in module.parameters())


def aux_parameters(module: nn.Module) -> int:
    """Parameters used only by the auxiliary losses (the submodules named in ``module.aux_modules``)."""
    names = tuple(getattr(module, "aux_modules", ()))
    return sum(count_parameters(getattr(module, n)) for n in names if isinstance(getattr(module, n, None), nn.Module))


def build_on_meta(name: str, **cfg: Any) -> nn.Module:
    """The embedder ``name`` built on the ``meta`` device (no memory, no initialisation cost)."""
    from fsfer.models.registry import build_embedder

    with torch.device("meta"):
        return build_embedder(name, **cfg)


def count_macs(module: nn.Module, image_size: int, device: torch.device | str | None = None) -> tuple[int, dict[str, int], tuple[int, ...]]:
    """``(MACs, MACs by op, output shape)`` of one ``[1, in_channels, S, S]`` forward in eval mode (FLOPs / 2).

    Attention runs on PyTorch's math backend while counting, so its matmuls are seen as
    matmuls on every device (FlopCounterMode has no formula for the CPU's fused kernel).
    """
    if device is None:
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
    in_channels = int(getattr(module, "in_channels", 3))
    was_training = module.training
    module.eval()
    counter = FlopCounterMode(display=False)
    try:
        with sdpa_kernel(SDPBackend.MATH), counter, torch.no_grad():
            out = module(torch.zeros(1, in_channels, image_size, image_size, device=device))
    except RuntimeError as err:
        raise ModelError(f"the embedder cannot take {image_size}x{image_size} images ({err}); use a larger size") from err
    finally:
        module.train(was_training)
    by_op = {str(op).removeprefix("aten."): int(flops) // 2 for op, flops in counter.get_flop_counts()["Global"].items()}
    return int(counter.get_total_flops()) // 2, by_op, tuple(out.shape[1:])


def profile_embedder(name: str, image_size: int | None = None, **cfg: Any) -> Profile:
    """Parameters, MACs and output shape of embedder ``name`` at ``image_size`` (default: its paper's input size)."""
    from fsfer.models.registry import all_embedders

    known = all_embedders()
    if name not in known:
        raise ModelError(f"unknown embedder {name!r}; known embedders: {', '.join(known)}")
    size = int(image_size) if image_size else PAPERS[name].input_size if name in PAPERS else 84
    if size < 1:
        raise ModelError(f"image size must be positive; got {size}")
    module = build_on_meta(name, **cfg)
    macs, by_op, shape = count_macs(module, size, "meta")
    return Profile(
        name=name,
        image_size=size,
        params=count_parameters(module),
        params_aux=aux_parameters(module),
        macs=macs,
        output_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
        macs_by_op=by_op,
    )
