"""``fsfer models``: the embedders (backbones), their size and cost against their papers' figures.

``fsfer models list`` keeps its table in the fsfer cache folder (``$FSFER_CACHE`` or
``~/.cache/fsfer``), keyed by a digest of fsfer's sources and the torch and torchvision
versions: the first list builds every embedder on the ``meta`` device to count its
parameters (a few seconds, nearly all of it importing PyTorch and torchvision); a later
one reads the table without importing PyTorch at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

app = typer.Typer(help="Embedders (backbones): list them, and their size and cost.", no_args_is_help=True)

MACS_NOTE = (
    "MACs = FLOPs / 2 from torch.utils.flop_counter.FlopCounterMode on one image in eval mode "
    "(convolutions, linear layers, attention matmuls; not norms, activations or element-wise ops)"
)

#: One line on what each embedder is; embedders registered later fall back to their docstring.
DESCRIPTIONS: dict[str, str] = {
    "conv4": "Conv-4 of RelationNet/CRN (pool after blocks 1-2); 84 -> 64x19x19",
    "conv4-pool": "Conv-4 of ProtoNet/MatchingNet/MAML (pool after every block); 84 -> 64x5x5",
    "resnet12": "ResNet-12 of MetaOptNet/TADAM; 84 -> 640x5x5",
    "resnet18": "torchvision ResNet-18 trunk (no avgpool/fc); 224 -> 512x7x7",
    "irse50": "IR-50 body of ArcFace/face.evoLVe; 112 -> 512x7x7",
    "dan": "DAN: ResNet-18 + 4 cross-attention heads + attention fusion, affinity/partition losses; 224 -> 512x1x1",
    "dacl": "DACL: ResNet-18 map + attention branch for the sparse center loss; 224 -> 512x7x7",
    "vtff": "VTFF: RGB and LBP ResNet-18s, attentional selective fusion, Transformer (CLS); 224 -> 768x1x1",
    "transfer": "TransFER: IR-50 stages 1-3, 2 LANets + MAD, ViT-FER with MSAD (CLS); 112 -> 768x1x1",
}


def describe(name: str, ctor: Any) -> str:
    """The one-line description of embedder ``name`` (its docstring's first line when not in :data:`DESCRIPTIONS`)."""
    if name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    doc = (getattr(ctor, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def millions(count: float | None) -> str:
    """``19723733 -> '19.72M'``; ``None -> '-'``."""
    return "-" if count is None else f"{count / 1e6:.2f}M"


def gigas(count: float | None) -> str:
    """``2224734208 -> '2.22G'``; ``None -> '-'``."""
    return "-" if count is None else f"{count / 1e9:.2f}G"


LIST_CACHE_PREFIX = "models-list-"


def list_key() -> str:
    """A digest of what decides ``fsfer models list``: every fsfer source file and the torch/torchvision versions.

    Reading the sources takes milliseconds and imports nothing heavy.
    """
    from importlib.metadata import PackageNotFoundError, version

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(b"fsfer-models-list-v1")
    for dist in ("torch", "torchvision"):
        try:
            digest.update(f"|{dist}={version(dist)}".encode())
        except PackageNotFoundError:
            digest.update(f"|{dist}=?".encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(f"|{path.relative_to(root).as_posix()}|".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def list_cache_file(key: str) -> Path:
    """Where the table of ``key`` is kept: the folder of the image cache (``fsfer.store.default_cache_dir``,
    not imported here because it loads PyTorch)."""
    folder = Path(os.environ.get("FSFER_CACHE", Path.home() / ".cache" / "fsfer")).expanduser()
    return folder / f"{LIST_CACHE_PREFIX}{key[:20]}.json"


def read_list_cache(path: Path) -> list[tuple[str, int, str]] | None:
    """The cached ``(name, parameters, description)`` rows, or None when absent or unreadable."""
    try:
        rows = json.loads(path.read_text())
        return [(str(name), int(params), str(text)) for name, params, text in rows]
    except (OSError, ValueError, TypeError):
        return None


def write_list_cache(path: Path, rows: list[tuple[str, int, str]]) -> None:
    """Keep ``rows`` at ``path`` (atomically) and drop the tables of older keys; a cache that cannot be written is skipped."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(rows))
        os.replace(tmp, path)
        for old in path.parent.glob(f"{LIST_CACHE_PREFIX}*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        tmp.unlink(missing_ok=True)


def count_list() -> list[tuple[str, int, str]]:
    """``(name, parameters, description)`` of every embedder, each built on the ``meta`` device (no weights)."""
    from fsfer.models.embedders.profile import build_on_meta, count_parameters
    from fsfer.models.registry import all_embedders

    return [(name, count_parameters(build_on_meta(name)), describe(name, ctor)) for name, ctor in all_embedders().items()]


@app.command("list")
def list_models() -> None:
    """One line per embedder: name, parameters, what it is."""
    cache = list_cache_file(list_key())
    rows = read_list_cache(cache)
    if rows is None:
        typer.echo("counting the embedders' parameters (loads PyTorch; cached for the next list) ...", err=True)
        rows = count_list()
        write_list_cache(cache, rows)
    width = max(len(name) for name, _, _ in rows)
    for name, params, text in rows:
        typer.echo(f"{name:<{width}}  {millions(params):>8}  {text}")


@app.command("info")
def info(
    name: Annotated[str, typer.Argument(help="Embedder name (see: fsfer models list).")],
    image_size: Annotated[
        Optional[int], typer.Option("--image-size", min=1, help="Input side in pixels (default: the paper's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
) -> None:
    """Parameters, multiply-accumulates and output shape at an input size, beside the paper's figures."""
    from fsfer.models.embedders.profile import PAPERS, profile_embedder
    from fsfer.models.registry import all_embedders

    profile = profile_embedder(name, image_size)
    paper = PAPERS.get(name)
    summary: dict[str, Any] = {
        **profile.as_dict(),
        "description": describe(name, all_embedders()[name]),
        "macs_counting": MACS_NOTE,
        "paper": paper.as_dict() if paper else None,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"{name}: {summary['description']}")
    c, h, w = profile.output_shape
    typer.echo(f"  input         {profile.image_size} x {profile.image_size}")
    typer.echo(f"  output        {c} x {h} x {w}")
    aux = f" ({profile.params_aux:,} used only by auxiliary losses)" if profile.params_aux else ""
    typer.echo(f"  parameters    {profile.params:,} = {millions(profile.params)}{aux}")
    typer.echo(f"  MACs          {profile.macs:,} = {gigas(profile.macs)}")
    typer.echo(f"                {MACS_NOTE}")
    if paper is None:
        typer.echo("  paper         no figures recorded")
        return
    typer.echo(f"  paper         {paper.citation}")
    typer.echo(f"    input       {paper.input_size} x {paper.input_size}")
    typer.echo(f"    parameters  {millions(paper.params)}" + (f" ({paper.params_counts})" if paper.params_counts else ""))
    typer.echo(f"    MACs        {gigas(paper.macs)}" + (f" ({paper.macs_note})" if paper.macs_note else ""))
    if paper.verified:
        typer.echo(f"    status      {paper.verified}")
