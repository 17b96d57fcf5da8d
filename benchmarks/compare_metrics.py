"""Compare the few-shot methods on the same fixed test episodes: accuracy +- 95% CI per method and setting.

Run: ``.venv/bin/python benchmarks/compare_metrics.py`` (SynthFER, no data on disk, about
20 minutes on 2 CPU cores), or on real data the literature's settings, e.g.::

    .venv/bin/python benchmarks/compare_metrics.py --data rafdb:/data/RAF-DB/basic \\
        --data rafdb-compound:/data/RAF-DB/compound

For every protocol and backbone, and every test shot, the script draws **one** fixed
episode file over the protocol's novel rows (:class:`fsfer.EpisodeSampler` +
:func:`fsfer.episodes.fixed.save_episodes`); each method is trained on the base
classes with :func:`fsfer.engine.train.train` (validation on the val split picks
``best.pt``) and that checkpoint is evaluated on the shared file with
:func:`fsfer.engine.evaluate_run.evaluate_checkpoint`, so the methods differ only in
the method. (The run folder's own ``results.json`` is a short smoke test of
``--run-test-episodes`` episodes; the benchmark's numbers are the shared file's.)

Outputs, in ``--results-dir`` (default ``benchmarks/results/``):

- ``<name>.csv``: one row per protocol, backbone, method and shot: accuracy and ci95
  (fractions), test episodes, train episodes, train and eval seconds, best validation
  accuracy, the episode file and the run folder;
- ``<name>.md``: mean +- 95% CI in percent, one column per shot;
- ``<name>.png``: a bar chart with the CIs as error bars and chance as a dashed line.

Settings. Without ``--data``: the SynthFER protocols (``synth-basic-to-compound``,
``synth-lab-to-wild``), 5-way 1-shot and 5-shot, 32 px images, 400 training episodes
per run and 300 test episodes. With ``--data`` and no ``--protocols``: every
literature protocol that the given data supports, in its literature setting:
``crn-rafdb``/``crn-fer2013``/``crn-sfew`` test 3-way 3-shot and train 4-way 4-shot
(the CRN paper's; the base split has exactly 4 classes), ``cdnet-compound`` and
``rafdb-basic-to-compound`` 5-way 1-shot and 5-shot (CDNet: 16 queries per class);
64 px, 2,000 training episodes, 600 test episodes. Any option given overrides these.
MAML runs with ``inner_lr = 0.1`` (:data:`METHOD_OPTIONS`; ``--method-option`` changes it),
and torch on one thread (``--threads``: episodes this small gain nothing from more, and
OpenMP threads on shared cores slowed training 10-30x in our measurements).
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _jobs, beside this script

RESULTS_DIR = Path(__file__).resolve().parent / "results"
METHODS = ("crn", "relation", "protonet", "matching", "cosine", "maml")
#: Rows of classifier pretraining (``fsfer pretrain``) beside the episodic ones: the frozen embedder with
#: ProtoNet, with SimpleShot (nearest centroid on centred unit features: a cosine head), and CRN fine-tuned
#: episodically from it (``episode-train --init``).
PRETRAIN_METHODS = ("pretrain+protonet", "pretrain+simpleshot", "pretrain+crn")
SYNTH_PROTOCOLS = ("synth-basic-to-compound", "synth-lab-to-wild")
CSV_COLUMNS = (
    "protocol", "backbone", "method", "seed", "n_way", "k_shot", "q_query", "train_way", "train_shot",
    "accuracy", "ci95", "episodes", "train_episodes", "train_seconds", "eval_seconds", "best_val",
    "image_size", "options", "data", "episode_file", "disjoint_subjects", "run_dir", "pretrain_epochs",
)


@dataclass(frozen=True)
class Setting:
    """A protocol's evaluation setting: test way, shots and queries; training way/shot (0: the test's)."""

    n_way: int = 5
    shots: tuple[int, ...] = (1, 5)
    q_query: int = 15
    train_way: int = 0
    train_shot: int = 0


#: The literature's settings, in the order they run when ``--data`` picks them.
LITERATURE: dict[str, Setting] = {
    "crn-rafdb": Setting(n_way=3, shots=(3,), train_way=4, train_shot=4),
    "crn-fer2013": Setting(n_way=3, shots=(3,), train_way=4, train_shot=4),
    "crn-sfew": Setting(n_way=3, shots=(3,), train_way=4, train_shot=4),
    "cdnet-compound": Setting(n_way=5, shots=(1, 5), q_query=16),
    "rafdb-basic-to-compound": Setting(n_way=5, shots=(1, 5)),
}

#: Defaults of the two modes: (data, image size, training episodes, test episodes).
SYNTH_DEFAULTS = {"data": ["synth"], "image_size": 32, "episodes": 400, "test_episodes": 300, "pretrain_epochs": 20}
REAL_DEFAULTS = {"image_size": 64, "episodes": 2000, "test_episodes": 600, "pretrain_epochs": 30}
#: Method options the benchmark sets (``--method-option`` overrides them): MAML's inner step of 0.01
#: leaves it at chance within this budget (SynthFER, 300 episodes: 20.2% and 19.9% for 5-way 1/5-shot,
#: chance 20%); 0.1 lets it learn (27.4% 1-shot).
METHOD_OPTIONS: dict[str, dict] = {"maml": {"inner_lr": 0.1}}
QUICK = {"data": ["synth?subjects=30,per_subject=2,size=32"], "image_size": 32, "episodes": 6, "test_episodes": 10,
         "pretrain_epochs": 1}


@dataclass
class Plan:
    """Everything the benchmark runs: protocols with their settings and data, and the run options."""

    protocols: list[tuple[str, Setting, list[str]]]
    backbones: list[str]
    methods: list[str]
    image_size: int
    episodes: int
    test_episodes: int
    val_episodes: int
    train_query: int
    seed: int
    device: str
    name: str
    out_dir: Path
    results_dir: Path
    command: str = ""
    data: list[str] = field(default_factory=list)
    method_options: dict[str, dict] = field(default_factory=dict)
    seeds: int = 1
    workers: int = 1
    pretrain_epochs: int = 20
    merge: bool = False


def split_list(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Train and evaluate each few-shot method on the same fixed episodes; write a CSV, a markdown table and a chart.",
    )
    p.add_argument("--protocols", help=f"comma-separated protocol names or files (default: {','.join(SYNTH_PROTOCOLS)}, "
                   "or with --data the literature protocols it supports)")
    p.add_argument("--backbones", default="conv4", help="comma-separated embedders; every method of a setting uses the same one (default conv4)")
    p.add_argument("--methods", default=",".join(METHODS + PRETRAIN_METHODS),
                   help=f"comma-separated methods (default {','.join(METHODS + PRETRAIN_METHODS)}); pretrain+HEAD: the "
                   "embedder pretrained as a classifier (fsfer pretrain) with a metric head, or a method fine-tuned from it")
    p.add_argument("--pretrain-epochs", type=int,
                   help="epochs of classifier pretraining for the pretrain+ rows (default 20 on SynthFER, about the "
                   "images the episodic runs see; 30 with --data)")
    p.add_argument("--merge", action="store_true",
                   help="keep the rows of the existing NAME.csv for the methods not run now (same episode files), "
                   "e.g. to add pretrain+ rows to an earlier table")
    p.add_argument("--shots", help="comma-separated test shots (default 1,5; the literature's per protocol with --data)")
    p.add_argument("--n-way", type=int, help="test ways (default 5; the literature's per protocol with --data)")
    p.add_argument("--train-way", type=int, help="training ways (default the test's, or the literature's)")
    p.add_argument("--train-shot", type=int, help="training shots (default the test's, or the literature's)")
    p.add_argument("--q-query", type=int, help="test queries per class (default 15; 16 for cdnet-compound)")
    p.add_argument("--train-query", type=int, default=5, help="training queries per class (default 5)")
    p.add_argument("--episodes", type=int, help="training episodes per run (default 400 on SynthFER, 2000 with --data)")
    p.add_argument("--test-episodes", type=int, help="episodes in each fixed test file (default 300 on SynthFER, 600 with --data)")
    p.add_argument("--val-episodes", type=int, default=50, help="validation episodes (default 50); validation runs 3 times per run")
    p.add_argument("--image-size", type=int, help="image side in pixels (default 32 on SynthFER, 64 with --data)")
    p.add_argument("--method-option", action="append", default=[], metavar="METHOD.KEY=VALUE",
                   help="a method option (repeatable), e.g. maml.inner_lr=0.01 or crn.lambda_dist=0.7; "
                   "the benchmark sets maml.inner_lr=0.1")
    p.add_argument("--data", action="append", metavar="SPEC", help="data spec (repeatable); default SynthFER")
    p.add_argument("--name", help="results name (default compare_synth on SynthFER, compare otherwise)")
    p.add_argument("--out-dir", help="where the run folders go (default runs/compare/NAME)")
    p.add_argument("--results-dir", default=str(RESULTS_DIR), help="where NAME.csv/.md/.png go (default benchmarks/results)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: few-shot episodes are too small to gain from more, and "
                   "OpenMP threads slow down 10-30x when the cores are shared)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fixed test episodes and the first training seed (default 0)")
    p.add_argument("--seeds", type=int, help="training seeds per row: --seed, --seed + 1, ... (default 3; 1 with --quick)")
    p.add_argument("--workers", type=int, default=1,
                   help="runs trained at once, each in its own process on one thread (default 1; 2 on a 2-core machine)")
    p.add_argument("--quick", action="store_true", help="smoke-sized run: small SynthFER, 6 training and 10 test episodes")
    return p.parse_args(argv)


def literature_protocols(specs: list[str]) -> list[str]:
    """The literature protocols whose data requirements the given specs meet."""
    from fsfer.datasets.spec import parse_spec
    from fsfer.protocols import load_protocol

    formats = {parse_spec(s).format for s in specs}
    chosen = []
    for name in LITERATURE:
        proto = load_protocol(name)
        if set(proto.data) <= formats and (not proto.data_any or formats & set(proto.data_any)):
            chosen.append(name)
    return chosen


def specs_for(protocol, specs: list[str]) -> list[str]:
    """The data specs a protocol reads (those of its formats), so others are not decoded for nothing."""
    from fsfer.datasets.spec import parse_spec

    wanted = set(protocol.data) | set(protocol.data_any) | {s for part in (protocol.base, protocol.val, protocol.novel) for s in part.sources}
    if not wanted:
        return list(specs)
    return [s for s in specs if parse_spec(s).format in wanted]


def parse_method_options(items: Sequence[str]) -> dict[str, dict]:
    """``METHOD.KEY=VALUE`` items over :data:`METHOD_OPTIONS`; values are TOML (numbers, true/false) or strings."""
    import tomllib

    from fsfer.errors import ConfigError

    options = {m: dict(o) for m, o in METHOD_OPTIONS.items()}
    for item in items:
        name, eq, value = item.partition("=")
        method, dot, key = name.strip().partition(".")
        if not (eq and dot and method and key):
            raise ConfigError(f"--method-option {item!r}: write METHOD.KEY=VALUE, e.g. maml.inner_lr=0.01")
        try:
            parsed = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.strip()
        options.setdefault(method, {})[key.strip()] = parsed
    return options


def check_names(methods: list[str], backbones: list[str], options: dict[str, dict]) -> None:
    """ConfigError on an unknown method, backbone or method option, before anything is trained."""
    import inspect

    from fsfer.errors import ConfigError
    from fsfer.models.registry import all_embedders, all_methods

    known_methods, known_embedders = all_methods(), all_embedders()
    for m in methods:
        if m.startswith("pretrain+") and m.removeprefix("pretrain+") not in known_methods:
            raise ConfigError(f"unknown method {m!r}; pretrain+ takes a method: {', '.join(known_methods)}")
    methods = [m.removeprefix("pretrain+") for m in methods]
    for kind, names, known in (("method", methods, known_methods), ("backbone", backbones, known_embedders)):
        for n in names:
            if n not in known:
                raise ConfigError(f"unknown {kind} {n!r}; known: {', '.join(known)}")
    for method, opts in options.items():
        if method not in methods:
            continue
        params = set(inspect.signature(known_methods[method]).parameters)
        unknown = sorted(set(opts) - params)
        if unknown:
            raise ConfigError(f"--method-option: {method} has no option {unknown[0]!r}")


def make_plan(args: argparse.Namespace, argv: Sequence[str] | None = None) -> Plan:
    from fsfer.errors import ConfigError
    from fsfer.protocols import load_protocol

    real = bool(args.data) and not args.quick
    defaults = QUICK if args.quick else (REAL_DEFAULTS if real else SYNTH_DEFAULTS)
    data = list(args.data or defaults.get("data", []))
    names = split_list(args.protocols)
    if not names:
        if real:
            names = literature_protocols(data)
            if not names:
                raise ConfigError(
                    f"no literature protocol ({', '.join(LITERATURE)}) runs on the given data; pass --protocols"
                )
        else:
            names = list(SYNTH_PROTOCOLS[:1] if args.quick else SYNTH_PROTOCOLS)
    shots = [int(s) for s in split_list(args.shots)] if args.shots else None
    protocols = []
    for name in names:
        proto = load_protocol(name)
        setting = LITERATURE.get(proto.name, Setting()) if real else Setting()
        if args.quick:
            setting = replace(setting, q_query=5)
        setting = replace(
            setting,
            n_way=args.n_way or setting.n_way,
            shots=tuple(shots) if shots else setting.shots,
            q_query=args.q_query or setting.q_query,
            train_way=args.train_way or setting.train_way,
            train_shot=args.train_shot or setting.train_shot,
        )
        given = specs_for(proto, data) if data else []
        protocols.append((name, setting, given))
    methods = split_list(args.methods) or list(METHODS)
    backbones = split_list(args.backbones) or ["conv4"]
    method_options = parse_method_options(args.method_option)
    check_names(methods, backbones, method_options)
    for option, value in (("--seeds", args.seeds), ("--workers", args.workers), ("--pretrain-epochs", args.pretrain_epochs)):
        if value is not None and value < 1:
            raise ConfigError(f"{option} must be at least 1; got {value}")
    all_synth = all(n in SYNTH_PROTOCOLS for n in names) and not real
    name = args.name or ("compare_synth" if all_synth else "compare")
    if args.quick and not args.name:
        name += "_quick"
    return Plan(
        protocols=protocols,
        backbones=backbones,
        methods=methods,
        image_size=args.image_size or defaults["image_size"],
        episodes=args.episodes or defaults["episodes"],
        test_episodes=args.test_episodes or defaults["test_episodes"],
        val_episodes=min(args.val_episodes, 5) if args.quick else args.val_episodes,
        train_query=args.train_query,
        seed=args.seed,
        device=args.device,
        name=name,
        out_dir=Path(args.out_dir) if args.out_dir else Path("runs") / "compare" / name,
        results_dir=Path(args.results_dir),
        command="python benchmarks/compare_metrics.py " + shlex.join(list(argv if argv is not None else sys.argv[1:])),
        data=data,
        method_options=method_options,
        seeds=args.seeds or (1 if args.quick else 3),
        workers=args.workers,
        pretrain_epochs=args.pretrain_epochs or defaults["pretrain_epochs"],
        merge=args.merge,
    )


def make_episode_file(path: Path, pdata, n_way: int, k_shot: int, q_query: int, episodes: int, seed: int) -> Path:
    """One fixed test file over the novel rows, subject-disjoint whenever every image has a subject
    (small classes give their query what remains)."""
    from fsfer.episodes import EpisodeSampler
    from fsfer.episodes.fixed import save_episodes

    sampler = EpisodeSampler(
        pdata.store, pdata.classes("novel"), n_way, k_shot, q_query, seed,
        episodes=episodes, indices=pdata.rows["novel"], allow_small=True,
    )
    save_episodes(path, pdata.store, (sampler.index(i) for i in range(episodes)))
    return path


def _episodic(plan: Plan, name: str, setting: Setting, specs: list[str], backbone: str, method: str, shot: int,
              seed: int, run_dir: Path) -> tuple[dict, dict]:
    """The RunConfig fields of one episodic run and its row key."""
    way = setting.n_way
    train_way = setting.train_way or way
    train_shot = setting.train_shot or shot
    config = dict(
        data=list(specs), protocol=name, method=method, backbone=backbone,
        method_options=dict(plan.method_options.get(method, {})),
        n_way=train_way, k_shot=train_shot, q_query=plan.train_query,
        episodes=plan.episodes, image_size=plan.image_size, device=plan.device, seed=seed,
        val_every=max(1, math.ceil(plan.episodes / 3)), val_episodes=plan.val_episodes,
        save_every=plan.episodes,
        test_episodes=min(plan.test_episodes, 20), test_way=way, test_shot=shot,
        test_query=setting.q_query, allow_small=True, out=str(run_dir),
    )
    key = {
        "protocol": Path(name).stem, "backbone": backbone, "method": method, "seed": seed,
        "n_way": way, "k_shot": shot, "q_query": setting.q_query,
        "train_way": train_way, "train_shot": train_shot, "train_episodes": plan.episodes,
        "image_size": plan.image_size,
        "options": " ".join(f"{k}={v}" for k, v in plan.method_options.get(method, {}).items()),
        "data": " ".join(specs) or "default", "pretrain_epochs": 0,
    }
    return config, key


def plan_jobs(plan: Plan) -> list:
    """Every (protocol, shot, backbone, method, training seed) as a :class:`_jobs.Job`; the fixed episode
    file of each protocol and shot is written here, once, and shared by all its jobs."""
    from _jobs import Job

    from fsfer.protocol_data import load_protocol_data
    from fsfer.protocols import load_protocol

    jobs = []
    for name, setting, specs in plan.protocols:
        index = load_protocol_data(load_protocol(name), specs, plan.image_size, decode=False)
        stem = Path(name).stem
        for shot in setting.shots:
            way = setting.n_way
            file = plan.out_dir / "episodes" / f"{stem}-{way}w{shot}s-{setting.q_query}q-{plan.test_episodes}ep.csv"
            make_episode_file(file, index, way, shot, setting.q_query, plan.test_episodes, plan.seed)
            for backbone in plan.backbones:
                for method in plan.methods:
                    if method.startswith("pretrain+"):
                        continue
                    for seed in range(plan.seed, plan.seed + plan.seeds):
                        run_dir = plan.out_dir / stem / backbone / f"{method}-{way}w{shot}s" / f"seed{seed}"
                        config, key = _episodic(plan, name, setting, specs, backbone, method, shot, seed, run_dir)
                        jobs.append(Job(key=key, config=config, episode_file=str(file), data=list(specs), device=plan.device))
                heads = [m.removeprefix("pretrain+") for m in plan.methods if m.startswith("pretrain+")]
                for seed in range(plan.seed, plan.seed + plan.seeds) if heads else ():
                    run_dir = plan.out_dir / stem / backbone / f"pretrain-{way}w{shot}s" / f"seed{seed}"
                    config, key = _episodic(plan, name, setting, specs, backbone, "crn", shot, seed, run_dir)
                    pretrain = dict(
                        data=list(specs), protocol=name, backbone=backbone, image_size=plan.image_size, device=plan.device,
                        seed=seed, epochs=plan.pretrain_epochs, val_every=max(1, math.ceil(plan.pretrain_epochs / 4)),
                        val_episodes=plan.val_episodes, save_every=plan.pretrain_epochs,
                        test_episodes=min(plan.test_episodes, 20), test_way=way, test_shot=shot,
                        test_query=setting.q_query, allow_small=True, out=str(run_dir / "pretrain"),
                    )
                    key = {**key, "options": "", "pretrain_epochs": plan.pretrain_epochs}
                    jobs.append(Job(key=key, config=config, episode_file=str(file), data=list(specs), device=plan.device,
                                    pretrain=pretrain, heads=heads))
    return jobs


def run(plan: Plan, log=print) -> list[dict]:
    """Train and evaluate every (protocol, backbone, shot, method, seed); return the CSV rows (one per seed)."""
    from _jobs import run_jobs

    jobs = plan_jobs(plan)

    def trained(r: dict) -> str:
        episodic = f"{r['train_episodes']} ep {r['train_way']}w{r['train_shot']}s"
        if not r.get("pretrain_epochs"):
            return f"trained {episodic}"
        tuned = r["method"] not in (f"pretrain+{h}" for h in ("protonet", "cosine", "simpleshot"))
        return f"pretrained {r['pretrain_epochs']} epochs" + (f" + {episodic}" if tuned else "")

    def report(done: int, total: int, r: dict) -> None:
        log(
            f"[{done}/{total}] {r['protocol']} {r['backbone']} {r['method']:<8} {r['n_way']}w{r['k_shot']}s seed {r['seed']}: "
            f"{100 * r['accuracy']:5.2f} +- {100 * r['ci95']:4.2f} % on {r['episodes']} episodes "
            f"(val {100 * r['best_val']:5.2f} %; {trained(r)} in {r['train_seconds']:.1f} s, "
            f"evaluated in {r['eval_seconds']:.1f} s)"
        )

    return run_jobs(jobs, plan.workers, report)


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["pretrain_epochs"] = r.get("pretrain_epochs") or 0  # absent from tables made before pretraining existed
        for key in ("n_way", "k_shot", "episodes", "train_episodes", "image_size", "seed", "pretrain_epochs"):
            r[key] = int(r[key])
        for key in ("accuracy", "ci95", "train_seconds", "best_val"):
            r[key] = float(r[key])
    return rows


GROUP = ("protocol", "n_way", "backbone", "method", "k_shot")


def markdown_table(rows: list[dict]) -> str:
    """A row per protocol, backbone and method, a column per shot: the mean over training seeds +- the mean
    95% episode CI, and the spread over seeds [min-max] when there are several; best mean in bold."""
    from _jobs import seed_summary

    shots = sorted({int(r["k_shot"]) for r in rows})
    groups: dict[tuple, dict[int, dict]] = {}
    for r in seed_summary(rows, GROUP):
        groups.setdefault((r["protocol"], int(r["n_way"]), r["backbone"], r["method"]), {})[int(r["k_shot"])] = r
    best: dict[tuple, float] = {}
    for (proto, way, backbone, _), cells in groups.items():
        for shot, r in cells.items():
            key = (proto, way, backbone, shot)
            best[key] = max(best.get(key, -1.0), float(r["accuracy"]))
    lines = [
        "| protocol | way | backbone | method | " + " | ".join(f"{k}-shot" for k in shots) + " |",
        "|---|---|---|---|" + "---|" * len(shots),
    ]
    for (proto, way, backbone, method), cells in groups.items():
        out = []
        for shot in shots:
            r = cells.get(shot)
            if r is None:
                out.append("-")
                continue
            text = f"{100 * float(r['accuracy']):.2f} ± {100 * float(r['ci95']):.2f}"
            text = f"**{text}**" if float(r["accuracy"]) == best[(proto, way, backbone, shot)] else text
            if r["seeds"] > 1:
                text += f" [{100 * r['seed_min']:.1f}-{100 * r['seed_max']:.1f}]"
            out.append(text)
        lines.append(f"| {proto} | {way} | {backbone} | {method} | " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, rows: list[dict], plan: Plan, wall: float) -> str:
    table = markdown_table(rows)
    used = {r["method"] for r in rows}
    options = "".join(
        f"; {m} options: " + ", ".join(f"{k} = {v}" for k, v in o.items())
        for m, o in plan.method_options.items() if o and m in used
    )
    train_s = sum(float(r["train_seconds"]) for r in rows)
    first = rows[0] if rows else {}
    merge_text = (" With --merge: the rows of the methods this command did not run come from the table's earlier run, "
                  "on the same episode files." if plan.merge else "")
    pretrained = [r for r in rows if str(r["method"]).startswith("pretrain+")]
    pretrain_text = ""
    if pretrained:
        epochs = sorted({int(r["pretrain_epochs"]) for r in pretrained})
        pretrain_text = (
            f" The pretrain+ rows train the embedder as a classifier of the base classes (`fsfer pretrain`: "
            f"{'/'.join(map(str, epochs))} epochs, SGD, cosine schedule, crop/flip/colour-jitter, the best of its few-shot "
            f"validations), then score the novel episodes with the frozen embedder under a metric head (protonet; "
            f"simpleshot: nearest centroid on base-mean-centred unit features, i.e. a cosine head), or fine-tune a "
            f"method from it episodically for the same {plan.episodes} episodes (`episode-train --init`; crn)."
        )
    text = (
        f"# {plan.name}: few-shot methods on the same fixed episodes\n\n"
        f"Accuracy on the novel classes in percent: the mean over {plan.seeds} training seed(s) ± the 95% confidence "
        f"interval over episodes (1.96 std / sqrt(n), averaged over the seeds), and in brackets the lowest and highest "
        f"seed. {first.get('episodes', plan.test_episodes)} fixed, subject-disjoint test episodes per setting, the same "
        f"episode file for every method and seed; best mean of a setting in bold. Each method trained {plan.episodes} "
        f"episodes on the base classes (best validation checkpoint), {plan.image_size} px images, data: "
        f"{' '.join(plan.data) or 'the protocol default'}{options}.{pretrain_text}\n\n"
        f"{table}\n"
        f"Command: `{plan.command.strip()}`; wall time {wall / 60:.1f} min ({train_s / 60:.1f} min training"
        f"{' in all rows' if plan.merge else ''}).{merge_text}\n"
    )
    path.write_text(text)
    return table


def write_chart(path: Path, rows: list[dict], title: str = "") -> None:
    """Grouped bars: one panel per protocol and backbone, one group per shot, one bar per method, CIs as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from _jobs import seed_summary

    rows = seed_summary(rows, GROUP)
    panels = list(dict.fromkeys((r["protocol"], r["backbone"]) for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(panels), figsize=(max(6.0, 1.1 * len(methods) + 2) * len(panels), 4.4), squeeze=False)
    width = 0.8 / max(len(methods), 1)
    for ax, (proto, backbone) in zip(axes[0], panels):
        mine = [r for r in rows if r["protocol"] == proto and r["backbone"] == backbone]
        shots = sorted({int(r["k_shot"]) for r in mine})
        ways = {int(r["n_way"]) for r in mine}
        for m, method in enumerate(methods):
            xs, ys, es = [], [], []
            for s, shot in enumerate(shots):
                for r in mine:
                    if r["method"] == method and int(r["k_shot"]) == shot:
                        xs.append(s + (m - (len(methods) - 1) / 2) * width)
                        ys.append(100 * float(r["accuracy"]))
                        es.append(100 * float(r["ci95"]))
                        if r["seeds"] > 1:  # each training seed as a dot
                            ax.plot([xs[-1]] * r["seeds"], [100 * a for a in r["seed_accuracies"]], ".", color="black",
                                    markersize=3, zorder=3)
            ax.bar(xs, ys, width * 0.92, yerr=es, capsize=3, label=method, color=colours(m % 10))
        for i, way in enumerate(sorted(ways)):
            ax.axhline(100 / way, color="grey", linestyle="--", linewidth=1, label="chance" if i == 0 else None)
        way_text = "/".join(str(w) for w in sorted(ways))
        ax.set_xticks(range(len(shots)), [f"{way_text}-way {k}-shot" for k in shots])
        ax.set_title(f"{proto} ({backbone})", fontsize=10)
        ax.set_ylabel("accuracy on novel classes (%)")
        ax.set_ylim(0, min(100, max((100 * float(r["accuracy"]) + 100 * float(r["ci95"]) for r in mine), default=50) * 1.15 + 2))
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8, ncol=2, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def merged_rows(old: list[dict], new: list[dict], plan: Plan) -> list[dict]:
    """``old`` rows of the methods not run now, then ``new``, ordered by protocol (then as they were)."""
    kept = [r for r in old if r["method"] not in plan.methods]
    order = {Path(name).stem: i for i, (name, _, _) in enumerate(plan.protocols)}
    return sorted(kept + new, key=lambda r: order.get(r["protocol"], len(order)))


def main(argv: Sequence[str] | None = None) -> int:
    from fsfer.errors import FsferError

    import torch

    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        plan = make_plan(args, argv)
        print(
            f"compare_metrics: {len(plan.protocols)} protocol(s) x {len(plan.backbones)} backbone(s) x "
            f"{len(plan.methods)} method(s); {plan.episodes} training and {plan.test_episodes} test episodes, "
            f"{plan.image_size} px; runs in {plan.out_dir}",
            flush=True,
        )
        t0 = time.perf_counter()
        rows = run(plan, log=lambda line: print(line, flush=True))
        wall = time.perf_counter() - t0
    except FsferError as err:
        print(f"compare_metrics: error: {err}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
    base = plan.results_dir / plan.name
    if plan.merge and base.with_suffix(".csv").is_file():
        rows = merged_rows(read_csv(base.with_suffix(".csv")), rows, plan)
    write_csv(base.with_suffix(".csv"), rows)
    table = write_markdown(base.with_suffix(".md"), rows, plan, wall)
    write_chart(base.with_suffix(".png"), rows, title=f"{plan.name}: accuracy ± 95% CI on {plan.test_episodes} shared test episodes")
    print()
    print(table, end="")
    print(f"\nwall time {wall / 60:.1f} min; wrote {base}.csv, {base}.md, {base}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
