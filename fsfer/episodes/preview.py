"""Draw one episode: its support row and its query grid, with class names."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from fsfer.episodes.sampler import EpisodeIndex


def draw_episode(dataset, index: EpisodeIndex, cell: int = 72, label: int = 12) -> Image.Image:
    """A PNG-ready picture: row 0 the support (one column per shot, ways side by side), then the queries by way."""
    images = dataset.images
    names = [dataset.classes[c] for c in index.classes.tolist()]
    n_way = len(names)
    shots = [index.support[index.support_labels == w] for w in range(n_way)]
    queries = [index.query[index.query_labels == w] for w in range(n_way)]
    cols = max(max(len(s) for s in shots), max((len(q) for q in queries), default=0), 1)
    sheet = Image.new("RGB", (cell * (cols + 1), (cell + label) * 2 * n_way), "white")
    draw = ImageDraw.Draw(sheet)
    y = 0
    for title, groups in (("support", shots), ("query", queries)):
        for w, group in enumerate(groups):
            draw.text((2, y + cell // 2), f"{title}\n{names[w][:11]}", fill="black")
            for j, row in enumerate(group.tolist()):
                tile = Image.fromarray(np.ascontiguousarray(images[row].cpu().numpy().transpose(1, 2, 0)))
                sheet.paste(tile.resize((cell - 4, cell - 4)), (cell * (j + 1) + 2, y + 2))
            y += cell + label
    return sheet.crop((0, 0, sheet.width, y))
