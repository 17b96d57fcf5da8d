"""``fsfer predict``: classify faces among new classes given a few labelled examples of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from fsfer.cli.threads import ThreadsOption, torch_threads

HELP = "Classify query faces among new classes, each given by a folder of a few labelled faces."


def predict(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint written by `fsfer episode-train` or `fsfer pretrain`.")],
    support: Annotated[Path, typer.Option("--support", help="Folder with one sub-folder of face images per new class.")],
    query: Annotated[Optional[list[Path]], typer.Option("--query", help="A query image; repeat it, or list more images after it (a shell glob works).")] = None,
    more: Annotated[Optional[list[Path]], typer.Argument(help="More query images.", show_default=False)] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="Classify with this head on the checkpoint's embedder (protonet, cosine, simpleshot, ...); default: the run's own.")] = None,
    detect: Annotated[Optional[str], typer.Option("--detect", help="Support and query images are raw photos: find and eye-align their faces with haar (OpenCV's cascades) or a YuNet FILE.onnx; one prediction per face of a query photo.")] = None,
    min_size: Annotated[int, typer.Option("--min-size", help="With --detect: smallest face side to find, in pixels.")] = 40,
    annotate: Annotated[Optional[Path], typer.Option("--annotate", help="With --detect: draw the boxes and predicted classes on the query photo to this PNG (with several photos: OUT_<photo>.png each).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
    threads: ThreadsOption = None,
) -> None:
    """Print each query image's predicted class and score."""
    from fsfer.engine.build import resolve_device
    from fsfer.engine.predict import predict as run_predict
    from fsfer.errors import ConfigError

    queries = list(query or []) + list(more or [])
    if not queries:
        raise ConfigError("no query image: pass --query IMAGE (several may follow it, e.g. --query faces/*.png)")
    if annotate is not None and detect is None:
        raise ConfigError("--annotate draws the faces --detect finds: add --detect haar (or --detect FILE.onnx)")

    with torch_threads(threads):
        predictions = run_predict(checkpoint, support, queries, device=resolve_device(device), method=method,
                                  detect=detect, min_size=min_size)
    drawn = []
    if annotate is not None:
        from fsfer.faces.annotate import annotate as draw

        classes = list(predictions[0].scores) if predictions else []
        for q in dict.fromkeys(str(q) for q in queries):
            target = annotate if len(queries) == 1 else annotate.with_name(f"{annotate.stem}_{Path(q).stem}{annotate.suffix or '.png'}")
            target.parent.mkdir(parents=True, exist_ok=True)
            draw(q, [p for p in predictions if p.path == q], classes).save(target)
            drawn.append(str(target))
    if as_json:
        typer.echo(json.dumps({"predictions": [p.__dict__ for p in predictions], "annotated": drawn}))
        return
    for p in predictions:
        where = "" if p.box is None else f"\tface {p.face} at {','.join(f'{v:.0f}' for v in p.box)}"
        typer.echo(f"{p.path}\t{p.label}\t{p.score:.3f}{where}")
    for path in drawn:
        typer.echo(f"annotated: {path}")
