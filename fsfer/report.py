"""Run reports: training curves, a confusion matrix, per-class accuracy and a ``report.md``.

:func:`write_report` reads a run folder of ``fsfer episode-train`` or ``fsfer pretrain``
(``metrics.csv``, ``results.json``, ``config.toml``) and writes ``curves.png``,
``confusion.png``, ``per_class.png`` and ``report.md`` beside each other. Figures are
plain :class:`matplotlib.figure.Figure` objects rendered by Agg: no pyplot, no global
backend switch (a notebook's backend stays as it was), nothing to close.
Sizes are whole quarter-inches at 100 dpi, so every PNG has a predictable pixel size.
"""

from __future__ import annotations

import csv
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from fsfer.errors import ConfigError, DataError

DPI = 100
#: Size (inches) of ``curves.png``: three panels side by side.
CURVES_FIGSIZE = (15.0, 4.5)
#: Titles of the panels of ``curves.png``, in order.
CURVES_PANELS = ["training loss", "accuracy", "learning rate"]
#: Title of the colour bar of a confusion figure.
COLORBAR_TITLE = "row %"
BASE_COLUMNS = ("phase", "loss", "accuracy", "ci95", "lr")
STEP_COLUMNS = ("episode", "epoch")


@dataclass
class Report:
    """What :func:`write_report` wrote: ``files`` by kind (``curves``, ``confusion``, ``per_class``,
    ``report``) and, for each PNG, the titles of its axes in order (``panels``)."""

    files: dict[str, Path] = field(default_factory=dict)
    panels: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Metrics:
    """``metrics.csv`` as columns: the step name (``episode`` or ``epoch``), the training rows and the validation rows."""

    step: str
    train_steps: list[float]
    train_loss: list[float]
    train_accuracy: list[float]
    lr_steps: list[float]
    lr: list[float]
    loss_terms: dict[str, list[float]]
    val_steps: list[float]
    val_accuracy: list[float]
    val_ci95: list[float]


def _quarter(inches: float) -> float:
    """Round up to a whole quarter-inch, so that ``inches * DPI`` is an exact whole number of pixels."""
    return math.ceil(inches * 4) / 4


def figure_pixels(figsize: tuple[float, float]) -> tuple[int, int]:
    """Pixel size (width, height) of a PNG saved from a figure of ``figsize`` inches at :data:`DPI`."""
    return int(figsize[0] * DPI), int(figsize[1] * DPI)


def confusion_figsize(classes: Sequence[str]) -> tuple[float, float]:
    """Figure size (inches) of a confusion plot: half an inch a cell plus room for the longest full class name."""
    n = max(len(classes), 1)
    label = 0.075 * max((len(c) for c in classes), default=4)  # a 9 pt character is ~0.075 in wide
    cells = max(0.5 * n, 2.5)
    return _quarter(cells + label + 2.0), _quarter(cells + 0.75 * label + 1.5)


def per_class_figsize(n_classes: int, longest_name: int = 12) -> tuple[float, float]:
    """Figure size (inches) of the per-class bar plot: a bar of 0.3 in per class, room for the names."""
    return _quarter(6.0 + 0.075 * longest_name), _quarter(1.75 + 0.3 * max(n_classes, 1))


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` values (fewer at the start), so the curve starts at step one."""
    window = max(int(window), 1)
    out: list[float] = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def smoothing_window(n: int) -> int:
    """Window of the training curves' moving average: about a fiftieth of the run, 1 for short runs."""
    return max(1, n // 50)


def confusion_matrix_normalised(confusion: Sequence[Sequence[float]]) -> list[list[float]]:
    """Divide each row (a true class) by its total, so a row sums to 1; a row with no queries stays all zero."""
    out = []
    for row in confusion:
        total = float(sum(row))
        out.append([float(v) / total if total > 0 else 0.0 for v in row])
    return out


def _figure(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=DPI, layout="constrained")


def _save(fig, path: Path) -> list[str]:
    fig.draw_without_rendering()  # constrained layout settles on the second pass (axis labels of long tick names)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    titles = [ax.get_title() for ax in fig.axes]
    fig.clear()
    return titles


def draw_confusion(classes: list[str], confusion: list[list[int]], path: str | Path, title: str = "") -> list[str]:
    """Draw a row-normalised confusion matrix (true classes on rows, predicted on columns) to ``path``.

    Each cell is annotated with its percentage of the true class; the figure grows with the
    number of classes so full names stay readable. Returns the titles of the figure's axes
    (the matrix, then the colour bar).
    """
    n = len(classes)
    if n == 0 or len(confusion) != n or any(len(row) != n for row in confusion):
        shape = f"{len(confusion)}x{len(confusion[0]) if confusion else 0}"
        raise DataError(f"a confusion matrix of {shape} does not fit {n} classes: it needs one row and one column per class")
    norm = confusion_matrix_normalised(confusion)
    fig = _figure(confusion_figsize(classes))
    ax = fig.add_subplot()
    image = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(n), labels=classes, rotation=45, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set_yticks(range(n), labels=classes, fontsize=9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion (each true-class row sums to 100%)")
    size = 8 if n <= 10 else 7
    for i, row in enumerate(norm):
        for j, v in enumerate(row):
            ax.text(j, i, f"{100 * v:.0f}%", ha="center", va="center", fontsize=size,
                    color="white" if v > 0.55 else "black", in_layout=False)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, format=lambda v, _: f"{100 * v:.0f}%")
    bar.ax.set_title(COLORBAR_TITLE, fontsize=8)
    bar.set_label("share of the true class's queries")
    return _save(fig, Path(path))


def draw_per_class(per_class: dict[str, float], path: str | Path, mean: float, n_way: int, title: str = "") -> list[str]:
    """Horizontal bars of per-class accuracy (0..1 in, percent drawn), best on top, with dashed lines
    at the mean accuracy and at chance (1 / ``n_way``). Returns the axes titles."""
    items = sorted(per_class.items(), key=lambda kv: (kv[1], kv[0]))
    names = [k for k, _ in items]
    values = [100 * v for _, v in items]
    fig = _figure(per_class_figsize(len(items), max((len(k) for k in names), default=12)))
    ax = fig.add_subplot()
    ax.barh(range(len(items)), values, color="tab:blue", height=0.7)
    ax.set_yticks(range(len(items)), labels=names, fontsize=9)
    for y, v in enumerate(values):
        inside = v > 85
        ax.text(v - 1 if inside else v + 1, y, f"{v:.1f}%", va="center", ha="right" if inside else "left", fontsize=8,
                color="white" if inside else "black")
    ax.axvline(100 * mean, color="tab:red", linestyle="--", label=f"mean {100 * mean:.1f}%")
    if n_way > 0:
        ax.axvline(100 / n_way, color="grey", linestyle="--", label=f"chance {100 / n_way:.1f}% (1/{n_way})")
    ax.set_xlim(0, 100)
    ax.set_ylim(-0.6, len(items) - 0.4)
    ax.set_xlabel("test accuracy (%)")
    ax.set_title(title or "per-class test accuracy")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, Path(path))


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{path}: line {line}: {column} {text!r} is not a number; the file is damaged, rerun or fix that line") from None


def read_metrics(path: str | Path) -> Metrics:
    """Read a run's ``metrics.csv`` (the step column, ``phase``, ``loss``, ``accuracy``, ``ci95``, ``lr``, ``loss_<name>``)."""
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: cannot be read as CSV ({err}); it should be the metrics.csv a run writes") from None
    steps = [c for c in STEP_COLUMNS if c in columns]
    missing = [c for c in BASE_COLUMNS if c not in columns]
    if not steps or missing:
        need = ([] if steps else ["episode or epoch"]) + missing
        raise DataError(f"{path}: missing column(s) {', '.join(need)}; a run's metrics.csv has "
                        f"episode|epoch,phase,loss,accuracy,ci95,lr,loss_<name>...")
    step = steps[0]
    terms = [c for c in columns if c.startswith("loss_")]
    m = Metrics(step, [], [], [], [], [], {t[len("loss_"):]: [] for t in terms}, [], [], [])
    for line, row in enumerate(rows, start=2):
        x = _number(row.get(step) or "", path, line, step)
        if row.get("phase") == "train":
            if row.get("loss"):
                m.train_steps.append(x)
                m.train_loss.append(_number(row["loss"], path, line, "loss"))
                m.train_accuracy.append(_number(row.get("accuracy") or "nan", path, line, "accuracy"))
                for t in terms:
                    m.loss_terms[t[len("loss_"):]].append(_number(row.get(t) or "nan", path, line, t))
            if row.get("lr"):
                m.lr_steps.append(x)
                m.lr.append(_number(row["lr"], path, line, "lr"))
        elif row.get("phase") == "val" and row.get("accuracy"):
            m.val_steps.append(x)
            m.val_accuracy.append(_number(row["accuracy"], path, line, "accuracy"))
            m.val_ci95.append(_number(row.get("ci95") or "0", path, line, "ci95"))
    return m


def _no_data(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=ax.transAxes, color="grey")


def draw_curves(metrics: Metrics, path: str | Path) -> list[str]:
    """Three panels: training loss (and its terms), accuracy (training smoothed, validation with
    its 95% CI band and best point), learning rate. Returns the axes titles."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(CURVES_FIGSIZE)
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    n = len(metrics.train_steps)
    window = smoothing_window(n)
    smooth_label = f" (mean of {window})" if window > 1 else ""

    if n:
        _plot_smoothed(ax_loss, metrics.train_steps, metrics.train_loss, window, "total" + smooth_label, raw_alpha=0.2)
        terms = {k: v for k, v in metrics.loss_terms.items() if not all(math.isnan(x) for x in v)}
        if len(terms) > 1:
            for name, values in terms.items():
                ax_loss.plot(metrics.train_steps, moving_average(values, window), linewidth=1, label=name)
        ax_loss.legend(fontsize=8)
        if min(metrics.train_loss) > 0 and max(metrics.train_loss) / min(metrics.train_loss) > 1e3:
            ax_loss.set_yscale("log")
    else:
        _no_data(ax_loss, "training rows")
    ax_loss.set_title(CURVES_PANELS[0])
    ax_loss.set_ylabel("loss")

    acc = [100 * a for a in metrics.train_accuracy]
    if n:
        _plot_smoothed(ax_acc, metrics.train_steps, acc, window, "training" + smooth_label, raw_alpha=0.15)
    if metrics.val_steps:
        val = [100 * a for a in metrics.val_accuracy]
        ci = [100 * c for c in metrics.val_ci95]
        ax_acc.fill_between(metrics.val_steps, [v - c for v, c in zip(val, ci)], [v + c for v, c in zip(val, ci)],
                            color="tab:orange", alpha=0.25, linewidth=0, label="validation 95% CI")
        ax_acc.plot(metrics.val_steps, val, color="tab:orange", marker="o", markersize=3, label="validation")
        best = max(range(len(val)), key=lambda i: (val[i], -i))  # the first best, as the run keeps it
        ax_acc.plot([metrics.val_steps[best]], [val[best]], marker="*", markersize=14, color="tab:red", linestyle="none",
                    label=f"best {val[best]:.1f}% at {metrics.step} {metrics.val_steps[best]:g}")
    if n or metrics.val_steps:
        ax_acc.legend(fontsize=8, loc="best")
    else:
        _no_data(ax_acc, "rows")
    ax_acc.set_title(CURVES_PANELS[1])
    ax_acc.set_ylabel("accuracy (%)")

    if metrics.lr:
        ax_lr.plot(metrics.lr_steps, metrics.lr, color="tab:green", marker="o" if len(metrics.lr) <= 30 else None, markersize=3)
        if min(metrics.lr) > 0 and max(metrics.lr) / min(metrics.lr) > 10:
            ax_lr.set_yscale("log")
    else:
        _no_data(ax_lr, "learning rates")
    ax_lr.set_title(CURVES_PANELS[2])
    ax_lr.set_ylabel("learning rate")
    for ax in (ax_loss, ax_acc, ax_lr):
        ax.set_xlabel(metrics.step)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        ax.grid(alpha=0.3)
    return _save(fig, Path(path))


def _plot_smoothed(ax, steps: list[float], values: list[float], window: int, label: str, raw_alpha: float) -> None:
    """A training series: its moving average (markers on short runs), over the raw values drawn faintly."""
    if window > 1:
        ax.plot(steps, values, color="tab:blue", alpha=raw_alpha, linewidth=0.8)
    ax.plot(steps, moving_average(values, window), color="tab:blue", label=label,
            marker="o" if len(steps) <= 30 else None, markersize=3)


def _run_folder(run: str | Path) -> Path:
    folder = Path(run)
    if folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such run folder; pass the --out folder of `fsfer episode-train` or `fsfer pretrain`")
    if not (folder / "metrics.csv").is_file():
        raise ConfigError(f"{folder}: not a run folder of `fsfer episode-train` or `fsfer pretrain` (no metrics.csv); "
                          f"pass the --out folder of such a run")
    return folder


RESULT_KEYS = ("accuracy", "ci95", "episodes", "n_way", "k_shot", "q_query", "per_class", "classes", "confusion")


def _read_results(path: Path) -> dict[str, Any]:
    try:
        results = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not readable JSON ({err}); delete it and rerun the test (`fsfer evaluate`) or the run") from None
    missing = [k for k in RESULT_KEYS if not isinstance(results, dict) or k not in results]
    if missing:
        raise DataError(f"{path}: missing {', '.join(missing)}; it was not written by this fsfer's "
                        f"`episode-train`/`pretrain`: rerun the run to rewrite it")
    return results


def _read_config(path: Path) -> tuple[str, dict[str, Any]]:
    """The config's text and its values ({} when missing or unreadable: a report is still useful)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return "", {}
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text, {}


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _markdown(folder: Path, kind: str, metrics: Metrics, results: dict[str, Any] | None,
              config_text: str, config: dict[str, Any]) -> str:
    source = results or config
    protocol = source.get("protocol") or "?"
    method = source.get("method") or "?"
    backbone = source.get("backbone") or "?"
    lines = [f"# fsfer report: {protocol}, {method}, {backbone}", "", f"Run folder: `{folder}` (`fsfer {kind}`)", ""]
    if results is None:
        best = f"; best validation so far {_pct(max(metrics.val_accuracy))}" if metrics.val_accuracy else ""
        last = f"last logged: {metrics.step} {metrics.train_steps[-1]:g}" if metrics.train_steps else f"no {metrics.step} logged yet"
        lines += [
            f"**The test has not run yet** (no `results.json`): the run stopped or is still running "
            f"({last}{best}).",
            "",
            f"Finish it with `fsfer {kind} --resume --out {folder}`, then run `fsfer report {folder}` again.",
            "",
        ]
    else:
        people = "subject-disjoint" if results.get("disjoint_subjects") else "subjects not kept apart"
        best_val = results.get("best_val_accuracy")
        best = f"; best validation {_pct(best_val)}" if isinstance(best_val, (int, float)) else ""
        lines += [
            f"**Test:** {results['n_way']}-way {results['k_shot']}-shot, {results['q_query']} queries, "
            f"{results['episodes']} episodes ({people}): accuracy {_pct(results['accuracy'])} +- "
            f"{_pct(results['ci95'])}{best}",
            "",
            f"- fsfer {results.get('fsfer_version', '?')}, torch {results.get('torch_version', '?')}",
            f"- seed {results.get('seed', '?')}, wall seconds {results.get('wall_seconds', '?')}",
        ]
        for key in ("checkpoint", "test_episodes_file"):
            if results.get(key):
                lines.append(f"- {key.replace('_', ' ')}: `{results[key]}`")
        lines.append("")
    lines += ["## Training curves", "", "![curves](curves.png)", ""]
    if results is not None:
        lines += ["## Confusion (rows: true class, columns: predicted)", "", "![confusion](confusion.png)", "",
                  "## Per-class accuracy", "", "![per_class](per_class.png)", "", "| class | accuracy |", "|---|---:|"]
        lines += [f"| {name} | {_pct(acc)} |" for name, acc in results["per_class"].items()]
        lines.append("")
    lines += ["## Config", ""]
    if config_text:
        lines += ["```toml", config_text.rstrip("\n"), "```", ""]
    else:
        lines += ["(no readable `config.toml` in the run folder)", ""]
    return "\n".join(lines)


def write_report(run: str | Path, out: str | Path | None = None) -> Report:
    """Write ``curves.png``, ``confusion.png``, ``per_class.png`` and ``report.md`` for a run folder
    (or a checkpoint inside one) into ``out`` (default: the run folder).

    An unfinished run (no ``results.json``) gets the curves and a ``report.md`` that says how to finish it.
    """
    folder = _run_folder(run)
    target = Path(out) if out is not None else folder
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{target}: cannot create the report folder ({err.strerror}); pass another --out") from None
    metrics = read_metrics(folder / "metrics.csv")
    kind = "pretrain" if metrics.step == "epoch" else "episode-train"
    results_path = folder / "results.json"
    results = _read_results(results_path) if results_path.is_file() else None
    config_text, config = _read_config(folder / "config.toml")

    report = Report()
    report.files["curves"] = target / "curves.png"
    report.panels["curves"] = draw_curves(metrics, report.files["curves"])
    if results is not None:
        per_class = {str(k): float(v) for k, v in results["per_class"].items()}
        try:
            n_way, episodes = int(results["n_way"]), int(results["episodes"])
            classes = [str(c) for c in results["classes"]]
            report.files["confusion"] = target / "confusion.png"
            report.panels["confusion"] = draw_confusion(
                classes, results["confusion"], report.files["confusion"],
                title=f"confusion over {episodes} test episodes, {n_way}-way (rows sum to 100%)")
        except (DataError, TypeError, ValueError) as err:
            raise DataError(f"{results_path}: {err}; rerun the test to rewrite it") from None
        report.files["per_class"] = target / "per_class.png"
        report.panels["per_class"] = draw_per_class(
            per_class, report.files["per_class"], float(results["accuracy"]), n_way,
            title=f"per-class test accuracy, {n_way}-way {results['k_shot']}-shot")
    report.files["report"] = target / "report.md"
    report.files["report"].write_text(_markdown(folder, kind, metrics, results, config_text, config))
    return report
