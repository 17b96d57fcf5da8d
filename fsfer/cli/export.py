"""``fsfer export``: a TorchScript file of a checkpoint and its support classes, loadable with torch alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fsfer.cli.threads import ThreadsOption, torch_threads

HELP = "Export a checkpoint with its support classes as a TorchScript file (torch.jit.load; no fsfer needed)."


def export(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint (or run folder) of `fsfer episode-train` or `fsfer pretrain`.")],
    support: Annotated[Path, typer.Option("--support", help="Folder with one sub-folder of face images per class.")],
    out: Annotated[Path, typer.Option("--out", help="The TorchScript file to write, e.g. model.pt.")],
    method: Annotated[Optional[str], typer.Option("--method", help="Another head on the checkpoint's embedder (protonet, cosine, simpleshot, ...).")] = None,
    detect: Annotated[Optional[str], typer.Option("--detect", help="The support images are raw photos: find and align their faces (haar or FILE.onnx).")] = None,
    threads: ThreadsOption = None,
) -> None:
    """forward(images [B, 3, S, S] uint8 or float in [0, 1]) -> scores [B, n_classes]; attributes class_names,
    image_size, mean, std."""
    from fsfer.engine.export import export_model

    with torch_threads(threads):
        done = export_model(checkpoint, support, out, method=method, detect=detect)
    typer.echo(f"wrote {done.path}: {done.method}, classes {', '.join(done.class_names)}, {done.image_size}x"
               f"{done.image_size} images; load it with torch.jit.load")
