"""The `posebench` command line: a thin click group whose subcommands load lazily.

Each subcommand lives in `posebench.commands.<module>` and is imported only when invoked, so
`posebench --help` and `posebench eval` never import torch. Library code never imports this.

Errors for people: an `InputError` (or any subclass) is printed as one line, exit code 2, no
traceback unless `--debug` is given (anywhere on the command line).
"""

from __future__ import annotations

import importlib
import sys

import click

from posebench import __version__
from posebench.errors import InputError

#: command name -> ("module", "attribute", short help shown by `posebench --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "eval": ("posebench.commands.eval_cmd", "eval_cmd", "Score a predictions file."),
    "convert": ("posebench.commands.convert_cmd", "convert_cmd",
                "Convert another codebase's predictions to posebench's .npz."),
    "keys": ("posebench.commands.eval_cmd", "keys_cmd",
             "Write the canonical sample order a model must follow."),
    "protocols": ("posebench.commands.eval_cmd", "protocols_cmd",
                  "List evaluation protocols or show one in full."),
    "pss": ("posebench.commands.pss_cmd", "pss", "Fit, inspect and apply PSS models."),
    "data": ("posebench.commands.data_cmd", "data", "List, prepare or generate datasets."),
    "geometry": ("posebench.commands.geometry_cmd", "geometry",
                 "Multi-view geometry: epipolar pseudo-labels."),
    "reproduce": ("posebench.commands.reproduce_cmd", "reproduce",
                  "Train and evaluate a bundled reference model end to end."),
    "methods": ("posebench.commands.methods_cmd", "methods_cmd", "List registered methods."),
    "run": ("posebench.commands.methods_cmd", "run_cmd",
            "Run a method on a dataset and write predictions."),
    "viz": ("posebench.commands.viz_cmd", "viz",
            "Figures: sample grids, predictions over ground truth."),
    "check": ("posebench.commands.leaderboard_cmd", "check_cmd",
              "Regression gate: compare a result with a leaderboard entry."),
    "compare": ("posebench.commands.compare_cmd", "compare_cmd",
                "Paired comparison of two result records (block bootstrap CI, p-value)."),
    "leaderboard": ("posebench.commands.leaderboard_cmd", "leaderboard",
                    "Build leaderboard tables from result records."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it is used."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str, str]] | None = None, **kw):
        super().__init__(*args, **kw)
        self.lazy = lazy or {}

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr, _ = self.lazy[name]
            try:
                return getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("posebench"):
                    return _unavailable(name, str(exc))
                raise
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(n, self.lazy[n][2] if n in self.lazy else "") for n in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, why: str) -> click.Command:
    @click.command(name, help="(not available in this build)")
    def cmd():
        raise click.ClickException(f"`posebench {name}` is not available: {why}")
    return cmd


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posebench")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """posebench: evaluation toolkit for 3D human pose estimation (MPJPE, P-MPJPE, N-MPJPE,
    PCK, AUC, Pose Structure Score), with a complete EpipolarPose reference implementation."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def one_line(text: str) -> str:
    """`text` on one printable line: newlines and control characters (which a message may
    quote from a user's file) are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text.strip())


def _hoist_debug(args: list[str]) -> list[str]:
    """`--debug` is accepted anywhere before a `--` separator (`posebench eval x --debug`):
    it is moved to the front, where the group option lives."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *[a for i, a in enumerate(args) if not (a == "--debug" and i < end)]]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning input errors into one line and exit code 2."""
    args = _hoist_debug(list(sys.argv[1:] if argv is None else argv))
    debug = bool(args) and args[0] == "--debug"
    try:
        cli.main(args=args, prog_name="posebench", standalone_mode=False)
    except InputError as exc:
        if debug:
            raise
        click.echo(f"error: {one_line(str(exc))}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:
        if debug:
            raise
        ctx = exc.ctx
        where = f"`{ctx.command_path} --help`" if ctx is not None else "`posebench --help`"
        click.echo(f"error: {one_line(exc.format_message()).rstrip('.')}; see {where}.",
                   err=True)
        return 2
    except click.ClickException as exc:
        if debug:
            raise
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
