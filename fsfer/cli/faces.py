"""``fsfer faces``: find, align and crop the faces of raw photos into a folder dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HELP = "Detect and eye-align the faces of raw photos (class folders kept) into a folder dataset with a manifest."


def faces(
    in_dir: Annotated[Path, typer.Argument(help="Folder of photos, e.g. IN/<class>/<photo>.jpg.")],
    out_dir: Annotated[Path, typer.Argument(help="Where the aligned faces go (then usable as --data folder:OUT_DIR).")],
    size: Annotated[int, typer.Option("--size", help="Side of the aligned square crops in pixels.")] = 112,
    margin: Annotated[float, typer.Option("--margin", help="Margin around the face, as a fraction of its side, on each side.")] = 0.2,
    detector: Annotated[str, typer.Option("--detector", help="haar (OpenCV's cascades, shipped with it) or a YuNet model FILE.onnx.")] = "haar",
    min_size: Annotated[int, typer.Option("--min-size", help="Smallest face side to find, in pixels.")] = 40,
    all_faces: Annotated[bool, typer.Option("--all-faces", help="Keep every face of a photo (default: the largest).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="A photo without a face is an error (default: a warning listing them).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty OUT_DIR.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Write OUT_DIR/<class>/<photo>_f<k>.png and OUT_DIR/manifest.csv (path,source,x0,y0,x1,y1,score,face)."""
    from tqdm.auto import tqdm

    from fsfer.faces import extract_faces, make_detector

    find = make_detector(detector, min_size=min_size)
    bar = tqdm(desc="faces", unit="photo", disable=quiet)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(1)

    try:
        result = extract_faces(in_dir, out_dir, find, size=size, margin=margin, all_faces=all_faces, strict=strict,
                               force=force, progress=progress)
    finally:
        bar.close()
    if result.without_face:
        shown = ", ".join(result.without_face[:5]) + (", ..." if len(result.without_face) > 5 else "")
        typer.echo(f"fsfer: warning: no face found in {len(result.without_face)} of {result.photos} photo(s): {shown}",
                   err=True)
    typer.echo(f"wrote {result.faces} aligned face(s) from {result.photos} photo(s) to {result.out} "
               f"(manifest: {result.out / 'manifest.csv'}); use it with --data folder:{result.out}")
