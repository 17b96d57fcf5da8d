"""The ``fsfer`` command line: the only place that parses arguments and prints for people.

Every command lives in a small module of this package and is registered here.
Bad input (an :class:`~fsfer.errors.FsferError` or a usage error) becomes one line
on stderr and exit status 2.
"""

from __future__ import annotations

import sys
import warnings
from typing import Annotated, Sequence

import typer
from typer._click import exceptions as click_exceptions

from fsfer.cli import datasets as _datasets
from fsfer.cli import episodes as _episodes
from fsfer.cli import evaluate as _evaluate
from fsfer.cli import export as _export
from fsfer.cli import faces as _faces
from fsfer.cli import models as _models
from fsfer.cli import predict as _predict
from fsfer.cli import pretrain as _pretrain
from fsfer.cli import probe as _probe
from fsfer.cli import report as _report
from fsfer.cli import synth as _synth
from fsfer.cli import train as _train
from fsfer.errors import FsferError, Interrupted

app = typer.Typer(
    name="fsfer",
    help="Few-shot meta-learning for facial expression recognition. "
    "Decoded images are cached (content-keyed .npy files) in ~/.cache/fsfer, or in the folder FSFER_CACHE names; "
    "deleting it only costs a decode.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(_datasets.app, name="datasets")
app.add_typer(_episodes.app, name="episodes")
app.add_typer(_models.app, name="models")
app.command("synth", help=_synth.HELP)(_synth.synth)
app.command("episode-train", help=_train.HELP)(_train.episode_train)
app.command("pretrain", help=_pretrain.HELP)(_pretrain.pretrain)
app.command("evaluate", help=_evaluate.HELP)(_evaluate.evaluate)
app.command("faces", help=_faces.HELP)(_faces.faces)
app.command("export", help=_export.HELP)(_export.export)
app.command("predict", help=_predict.HELP)(_predict.predict)
app.command("report", help=_report.HELP)(_report.report)
app.command("probe", help=_probe.HELP)(_probe.probe)


def _version(value: bool) -> None:
    if value:
        import torch

        from fsfer import __version__

        typer.echo(f"fsfer {__version__} (torch {torch.__version__}, Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Few-shot meta-learning for facial expression recognition."""


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, ``fsfer: warning: ...`` (no source line), on stderr."""
    print(f"fsfer: warning: {message}", file=sys.stderr)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return its exit status (0 ok, 1 check failed, 2 bad input, 130 interrupted)."""
    command = typer.main.get_command(app)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            result = command.main(args=list(argv) if argv is not None else None, prog_name="fsfer", standalone_mode=False)
    except Interrupted as err:
        print(f"fsfer: {err}", file=sys.stderr)
        return 130
    except FsferError as err:
        print(f"fsfer: error: {err}", file=sys.stderr)
        return 2
    except click_exceptions.NoArgsIsHelpError as err:
        print(err.format_message(), file=sys.stderr)
        return 0
    except click_exceptions.UsageError as err:
        hint = f" (see: {err.ctx.command_path} --help)" if err.ctx is not None else ""
        print(f"fsfer: error: {err.format_message()}{hint}", file=sys.stderr)
        return 2
    except click_exceptions.ClickException as err:
        print(f"fsfer: error: {err.format_message()}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("fsfer: aborted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console entry point ``fsfer``."""
    sys.exit(run())
