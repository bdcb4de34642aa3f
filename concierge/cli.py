"""The `apoena` command: parse options and hand them to one app. No logic of its own; imports stay light."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from concierge import __version__
from concierge.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Apoena — the AI gate concierge (portaria virtual) for Asterisk AudioSocket.",
)

ConfigOption = Annotated[
    Optional[Path], typer.Option("--config", help="config.json to use (default: ./config.json, else the project's).")
]
DirectoryOption = Annotated[
    Optional[Path], typer.Option("--directory", help="Resident directory JSON (default: directory.path in config).")
]
BrainOption = Annotated[Optional[str], typer.Option("--brain", help="rules (offline default) or crewai.")]


def _version(value: bool) -> None:
    if value:
        print(f"apoena {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Apoena — the AI gate concierge (portaria virtual) for Asterisk AudioSocket."""


@app.command()
def chat(
    config: ConfigOption = None,
    directory: DirectoryOption = None,
    brain: BrainOption = None,
    conversation_id: Annotated[Optional[str], typer.Option("--conversation-id", help="Resume a stored conversation.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print each full reply as one JSON object.")] = False,
) -> None:
    """Talk to the concierge by typing (or pipe one utterance per line; a blank line starts a new conversation)."""
    from concierge.apps.chat import run_chat

    raise typer.Exit(run_chat(config, directory, brain, conversation_id, json_output))


@app.command()
def serve(
    config: ConfigOption = None,
    directory: DirectoryOption = None,
    host: Annotated[Optional[str], typer.Option(help="Address to bind (default: server.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="AudioSocket port (default: server.port, 9092).")] = None,
) -> None:
    """Answer Asterisk AudioSocket calls."""
    from concierge.apps.serve import run_serve

    raise typer.Exit(run_serve(config, directory, host, port))


@app.command()
def simulate(
    paths: Annotated[list[Path], typer.Argument(help="Recorded calls (.slin 8 kHz or .wav) or folders of them.")],
    config: ConfigOption = None,
    directory: DirectoryOption = None,
    speed: Annotated[float, typer.Option(help="Play the recordings this many times faster than real time.")] = 1.0,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Stream blindly instead of waiting for each reply.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON report instead of tables.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Save the concierge's side of each call as WAV here.")] = None,
) -> None:
    """Stream recorded calls through the real pipeline, offline, and report what happened."""
    from concierge.apps.simulate import run_simulate

    raise typer.Exit(run_simulate(paths, config, directory, speed, no_wait, json_output, out))


@app.command()
def mic(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Server address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Server port.")] = 9092,
) -> None:
    """Talk to a running `apoena serve` from your microphone."""
    _not_yet("mic", "the microphone client")


def _not_yet(command: str, part: str) -> None:
    raise UserError(f"apoena {command} is not available yet — it arrives with {part}; try `apoena chat`")


def main() -> None:
    try:
        app()
    except UserError as error:
        print(f"\033[31merror:\033[0m {error}" if sys.stderr.isatty() else f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
