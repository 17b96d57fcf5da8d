"""The run machinery shared by ``fsfer episode-train`` and ``fsfer pretrain``.

One run folder layout (``config.toml``, ``metrics.csv``, ``last.pt``, ``best.pt``,
``val_episodes.csv``, ``test_episodes.csv``, ``results.json``), one way to start or
resume a run (:func:`start_run`), one checkpoint payload (:func:`run_payload`,
:func:`restore`), one metrics log (:class:`MetricsLog`) and one AMP switch
(:func:`autocast_for`). The two loops differ only in what a step is (an episode or a
batch of base images) and what they train (a method, or an embedder with a classifier).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager

import torch

from fsfer import __version__ as fsfer_version
from fsfer.engine.build import resolved_config
from fsfer.engine.checkpoint import checkpoint_kind, load_checkpoint, rng_state, save_checkpoint
from fsfer.engine.config import RunConfig, config_from_dict
from fsfer.episodes.fixed import save_episodes
from fsfer.errors import ConfigError, Interrupted
from fsfer.transforms import Normalise

RUN_FILES = ("config.toml", "metrics.csv", "last.pt", "best.pt", "val_episodes.csv", "test_episodes.csv", "results.json")
#: What ``fsfer report`` writes into a run folder at the end of a run.
REPORT_FILES = ("curves.png", "confusion.png", "per_class.png", "report.md")
#: The folder of TensorBoard event files (``--tensorboard``).
TENSORBOARD_DIR = "tensorboard"
#: What a step of each kind of run is, and the option that counts them (which a resume may raise).
STEP = {"episode-train": ("episode", "episodes"), "pretrain": ("epoch", "epochs")}
#: Options a resumed run may change (everything else comes from the run's own config).
RESUME_CHANGES = ("episodes", "epochs", "device", "amp", "val_every", "save_every", "tensorboard")


def check_out_dir(out: Path, resume: bool, force: bool) -> None:
    """Refuse a folder holding another run unless resuming or forcing; resuming needs ``last.pt``."""
    held = [name for name in RUN_FILES if (out / name).exists()]
    if resume:
        if not (out / "last.pt").is_file():
            raise ConfigError(f"{out}: nothing to resume (no last.pt); drop --resume to start a new run")
        return
    if held and not force:
        raise ConfigError(
            f"{out}: holds another run ({', '.join(held)}); pass --resume to continue it, "
            "--force to replace it, or choose another --out"
        )


@dataclass
class RunStart:
    """A run about to start: its resolved config, its folder, and the checkpoint it resumes (or None)."""

    cfg: RunConfig
    out: Path
    checkpoint: dict[str, Any] | None


def start_run(cfg: RunConfig, kind: str, resume: bool, force: bool, changes: dict[str, Any] | None = None) -> RunStart:
    """Resolve and check ``cfg``, check the run folder, and on ``resume`` load ``last.pt`` and its config.

    A resumed run takes everything from its own config (the run's length included);
    ``changes`` (the options given with ``--resume``) may change only the run's length,
    the device, AMP and how often it validates and saves. Resuming a run that has
    finished (``results.json`` written) needs a longer length. Nothing is written.
    """
    if resume and force:
        raise ConfigError("--resume continues the run in --out and --force replaces it: pass one of the two")
    if not resume:
        cfg = resolved_config(cfg)
        cfg.validate()
        check_names(cfg)
        check_tensorboard(cfg)
        out = Path(cfg.default_out(kind))
        check_out_dir(out, resume, force)
        return RunStart(cfg, out, None)
    out = Path(cfg.default_out(kind))
    check_out_dir(out, resume, force)
    changes = {k: v for k, v in (changes or {}).items() if k != "out"}
    fixed = sorted(set(changes) - set(RESUME_CHANGES))
    if fixed:
        raise ConfigError(
            f"--{fixed[0].replace('_', '-')} cannot change when resuming: the run keeps its own config.toml "
            f"(a resume may change {', '.join('--' + k.replace('_', '-') for k in RESUME_CHANGES)}); "
            f"start a new run in another --out instead"
        )
    checkpoint = load_checkpoint(out / "last.pt")
    held = checkpoint_kind(checkpoint)
    if held != kind:
        raise ConfigError(f"{out}: holds a `fsfer {held}` run; resume it with `fsfer {held} --resume --out {out}`")
    saved = config_from_dict(checkpoint["config"], f"{out / 'last.pt'}")
    cfg = config_from_dict(changes, "command line", base=saved).validate("command line")
    check_tensorboard(cfg)
    cfg.out = str(out)
    unit, length = STEP[kind]
    done, total = int(checkpoint[unit]), getattr(cfg, length)
    if done >= total and (out / "results.json").is_file():
        raise ConfigError(
            f"{out}: the run has finished its {total} {length}; pass --{length} N (more than {done}) with --resume "
            "to train it further"
        )
    if done > total:
        raise ConfigError(f"{out}: last.pt is at {unit} {done}, past --{length} {total}; pass a larger --{length}")
    return RunStart(cfg, out, checkpoint)


def execute(cfg: RunConfig, out: Path, report: bool, loop: Callable[[torch.device, Any], Any]) -> Any:
    """Run ``loop(device, dist_info)`` inside the torch.distributed set-up torchrun describes (if any), then,
    with ``report`` and a finished test, write the run's report (:func:`fsfer.report.write_report`)."""
    from fsfer.engine.build import resolve_device
    from fsfer.engine.distributed import init_distributed, shutdown

    device = resolve_device(cfg.device)
    dist_info = init_distributed(device.type)
    try:
        result = loop(device, dist_info)
    finally:
        shutdown(dist_info)
    if report and result.test is not None and dist_info.is_main:
        from fsfer.report import write_report

        write_report(out)
    return result


def check_names(cfg: RunConfig) -> None:
    """An unknown method or backbone, or an option either does not take, as a ConfigError/ModelError
    before any data is read (nothing is built)."""
    from fsfer.models.registry import all_embedders, all_methods, check_options

    methods, embedders = all_methods(), all_embedders()
    if cfg.method not in methods:
        raise ConfigError(f"--method {cfg.method!r}: unknown method; known methods: {', '.join(methods)}")
    if cfg.backbone not in embedders:
        raise ConfigError(f"--backbone {cfg.backbone!r}: unknown embedder; known embedders: {', '.join(embedders)}")
    check_options(embedders[cfg.backbone], cfg.backbone_options, f"embedder {cfg.backbone!r}")
    check_options(methods[cfg.method], cfg.method_options, f"method {cfg.method!r}", skip=1)


def claim_run_folder(out: Path, cfg: RunConfig, kind: str, force: bool, fresh: bool, store, val_set, test_set) -> None:
    """Make the run folder ours: on a fresh run, clear a forced folder and write the config and episode files;
    a resumed run rewrites ``config.toml`` (a resume may have changed its length)."""
    if fresh and force and out.exists():
        for name in RUN_FILES + REPORT_FILES:
            (out / name).unlink(missing_ok=True)
        if (out / TENSORBOARD_DIR).is_dir():
            import shutil

            shutil.rmtree(out / TENSORBOARD_DIR)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.toml").write_text(cfg.to_toml(out / "config.toml", command=kind))
    if fresh:
        save_episodes(out / "val_episodes.csv", store, val_set)
        save_episodes(out / "test_episodes.csv", store, test_set)


def run_payload(
    kind: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    step: int,
    best_val: float,
    cfg: RunConfig,
    classes: list[str],
    world_size: int,
    normalise: Normalise,
    **extra: Any,
) -> dict[str, Any]:
    """A checkpoint's contents: states, the step counter under the run's step name, config and facts."""
    return {
        "kind": kind,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
        STEP[kind][0]: step,
        "best_val": best_val,
        "config": cfg.to_dict(),
        "classes": list(classes),
        "image_size": cfg.image_size,
        "world_size": world_size,
        "normalise": {"mean": list(normalise.mean), "std": list(normalise.std)},
        **extra,
    }


def restore(checkpoint: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: Any) -> tuple[int, float]:
    """Load a resumed checkpoint's states; return its step counter and best validation accuracy."""
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    return int(checkpoint[STEP[checkpoint_kind(checkpoint)][0]]), float(checkpoint["best_val"])


def validate_and_save(
    number: int,
    last: int,
    cfg: RunConfig,
    log: "MetricsLog",
    validate: Callable[[], Any],
    payload: Callable[[int, float], dict[str, Any]],
    out: Path,
    best_val: float,
) -> float:
    """The end of step ``number`` (of ``last``): validate every ``val_every`` steps and at the last, writing the
    ``val`` row and ``best.pt`` on a new best; write ``last.pt`` every ``save_every`` steps and at the last.

    ``validate()`` returns an :class:`~fsfer.engine.evaluate.EvalResult`; ``payload(step, best_val)`` the checkpoint.
    Returns the best validation accuracy so far.
    """
    if number % cfg.val_every == 0 or number == last:
        val = validate()
        log.write({log.step_column: number, "phase": "val", "accuracy": val.accuracy, "ci95": val.ci95})
        if val.accuracy > best_val:
            best_val = val.accuracy
            save_checkpoint(out / "best.pt", payload(number, best_val))
    if number % cfg.save_every == 0 or number == last:
        save_checkpoint(out / "last.pt", payload(number, best_val))
    return best_val


def autocast_for(amp: bool) -> Callable[[], ContextManager]:
    """A factory of the run's autocast context: bf16 on CUDA when ``amp``, else nothing."""

    def autocast() -> ContextManager:
        return torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    return autocast


def run_facts(cfg: RunConfig, wall_seconds: float, disjoint_subjects: bool, out: Path) -> dict[str, Any]:
    """The facts every ``results.json`` records, so a number can be traced to its run."""
    return {
        "fsfer_version": fsfer_version, "torch_version": torch.__version__, "seed": cfg.seed,
        "wall_seconds": round(wall_seconds, 3), "disjoint_subjects": disjoint_subjects,
        "test_episodes_file": str(out / "test_episodes.csv"),
    }


def interrupted(kind: str, out: Path, signal_name: str, where: str) -> Interrupted:
    """The error a loop raises after saving ``last.pt`` on a signal: where it stopped and how to go on."""
    return Interrupted(
        f"stopped by {signal_name} {where}; saved {out / 'last.pt'}; go on with `fsfer {kind} --resume --out {out}`"
    )


def write_results(out: Path, summary: dict[str, Any]) -> None:
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")


def check_tensorboard(cfg: RunConfig) -> None:
    """ConfigError when ``--tensorboard`` is asked for without the ``tensorboard`` package."""
    if cfg.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ConfigError("--tensorboard needs the tensorboard package: pip install 'fsfer[tensorboard]' "
                              "(or drop --tensorboard; metrics.csv and fsfer report hold the same numbers)") from None


class MetricsLog:
    """``metrics.csv``: one row per training step (episode or epoch) and per validation.

    ``step_column`` names the step (``episode`` or ``epoch``); a resumed log is
    truncated to the resumed step. With ``tensorboard`` (a folder), every number is also
    written as a TensorBoard scalar ``<phase>/<column>`` at its step.
    """

    def __init__(self, path: Path, loss_names: list[str], resume_from: int | None, step_column: str = "episode",
                 tensorboard: Path | None = None) -> None:
        self.path = path
        self.step_column = step_column
        self.columns = [step_column, "phase", "loss", "accuracy", "ci95", "lr"] + [f"loss_{n}" for n in loss_names]
        kept: list[dict[str, str]] = []
        if resume_from is not None and path.is_file():
            with path.open(newline="") as fh:
                reader = csv.DictReader(fh)
                self.columns = list(reader.fieldnames or self.columns)
                kept = [r for r in reader if int(r[step_column]) <= resume_from]
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, path)
        self.fh = path.open("a", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=self.columns, extrasaction="ignore", restval="")
        self.board = None
        if tensorboard is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(str(tensorboard), purge_step=None if resume_from is None else resume_from + 1)

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self.fh.flush()
        if self.board is not None:
            step, phase = int(row[self.step_column]), row.get("phase", "train")
            for key, value in row.items():
                if isinstance(value, (int, float)) and key != self.step_column:
                    self.board.add_scalar(f"{phase}/{key}", float(value), step)

    def close(self) -> None:
        self.fh.close()
        if self.board is not None:
            self.board.close()
