"""From photos to predictions: predict --detect/--annotate, and a TorchScript export that loads with torch alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fsfer.cli import run

TINY = ["--data", "synth?subjects=16,per_subject=1,size=32", "--image-size", "32", "--n-way", "3", "--k-shot", "1",
        "--q-query", "2", "--test-query", "2", "--episodes", "2", "--val-every", "2", "--val-episodes", "2",
        "--test-episodes", "2", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ckpt")
    made = {}
    for method, backbone in (("protonet", "conv4-pool"), ("crn", "conv4")):
        out = root / method
        assert run(["episode-train", *TINY, "--method", method, "--backbone", backbone, "--out", str(out)]) == 0
        made[method] = out / "best.pt"
    return made


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_predict_detects_every_face_of_a_query_photo_and_draws_them(
    checkpoints, make_scene, save_image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    support = tmp_path / "support"
    for i, name in enumerate(("pain", "smirk", "pain", "smirk")):
        save_image(support / name / f"{i}.png", make_scene([(60 + 40 * i, 80, 0.8 + 0.1 * i, 0)], seed=i)[0])
    rgb, truths = make_scene([(40, 60, 0.9, 0), (360, 150, 0.9, 4)], seed=9)
    query = tmp_path / "group.png"
    save_image(query, rgb)
    drawn = tmp_path / "annotated.png"
    capsys.readouterr()
    assert run(["predict", str(checkpoints["protonet"]), "--support", str(support), "--query", str(query),
                "--detect", "haar", "--annotate", str(drawn), "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    faces = out["predictions"]
    assert [p["face"] for p in faces] == [0, 1] and all(p["label"] in ("pain", "smirk") for p in faces)
    centres = sorted(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in (p["box"] for p in faces))
    wanted = sorted(((t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2) for t in truths)
    assert all(np.hypot(a[0] - b[0], a[1] - b[1]) < 20 for a, b in zip(centres, wanted))
    assert out["annotated"] == [str(drawn)] and Image.open(drawn).size == (640, 480)
    empty = tmp_path / "empty.png"
    save_image(empty, make_scene([], seed=10)[0])
    assert run(["predict", str(checkpoints["protonet"]), "--support", str(support), "--query", str(empty),
                "--detect", "haar", "--device", "cpu"]) == 0
    assert "fsfer: warning: no face found in 1 query photo(s)" in capsys.readouterr().err
    assert run(["predict", str(checkpoints["protonet"]), "--support", str(support), "--query", str(query),
                "--annotate", str(drawn)]) == 2
    assert "--annotate draws the faces --detect finds" in one_line(capsys)


@pytest.mark.parametrize("method", ["protonet", "crn"])
def test_export_loads_with_torch_alone_and_scores_as_predict(
    checkpoints, method: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    support = tmp_path / "support"
    for name, base in (("pain", 60), ("smirk", 180)):
        (support / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray((rng.integers(0, 60, (32, 32, 3)) + base).astype(np.uint8)).save(support / name / f"{i}.png")
    queries = []
    for i in range(3):
        q = tmp_path / f"q{i}.png"
        Image.fromarray((rng.integers(0, 60, (32, 32, 3)) + 60 * (i + 1)).astype(np.uint8)).save(q)
        queries.append(q)
    model = tmp_path / "model.pt"
    capsys.readouterr()
    assert run(["export", str(checkpoints[method]), "--support", str(support), "--out", str(model)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {model}: ")
    assert run(["predict", str(checkpoints[method]), "--support", str(support), "--query", *map(str, queries),
                "--json", "--device", "cpu"]) == 0
    predicted = [[p["scores"][c] for c in ("pain", "smirk")] for p in json.loads(capsys.readouterr().out)["predictions"]]
    script = (
        "import json, sys, numpy as np, torch\n"
        "from PIL import Image\n"
        f"m = torch.jit.load({str(model)!r})\n"
        f"x = torch.from_numpy(np.stack([np.asarray(Image.open(p).convert('RGB')) for p in {[str(q) for q in queries]!r}]))\n"
        "scores = m(x.permute(0, 3, 1, 2).contiguous()).tolist()\n"
        "print(json.dumps({'fsfer_imported': any(k.startswith('fsfer') for k in sys.modules), 'class_names': list(m.class_names),"
        " 'image_size': m.image_size, 'mean': list(m.mean), 'std': list(m.std), 'scores': scores}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["fsfer_imported"] is False
    assert loaded["class_names"] == ["pain", "smirk"] and loaded["image_size"] == 32
    assert loaded["mean"] == [0.5, 0.5, 0.5] and loaded["std"] == [0.5, 0.5, 0.5]
    assert np.allclose(loaded["scores"], predicted, atol=1e-5)
