"""The `apoena` command: parse options and hand them to one app. No logic of its own; imports stay light."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import click
import typer

from concierge import __version__
from concierge.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UserError

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
CondominiumOption = Annotated[
    Optional[str],
    typer.Option("--condominium", help="Call as a gate of this condominium (an id from config `condominiums`): its code goes in the call's UUID, as the dialplan does."),
]
BrainOption = Annotated[Optional[str], typer.Option("--brain", help="rules (offline default) or crewai.")]
DbOption = Annotated[Optional[Path], typer.Option("--db", help="Call records database (default: records.path in config).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

calls_app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    help="Recorded calls (SQLite): list the latest; `show ID` for one call's turns; `purge` old ones.",
)
app.add_typer(calls_app, name="calls")


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
    port: Annotated[Optional[int], typer.Option(min=0, max=65535, help="AudioSocket port (default: server.port, 9092).")] = None,
    web_port: Annotated[
        Optional[int], typer.Option("--web-port", min=0, max=65535, help="Monitoring page and /metrics port (default: web.port, 8080).")
    ] = None,
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not serve the monitoring page.")] = False,
) -> None:
    """Answer Asterisk AudioSocket calls; watch them on the monitoring page (web.host, localhost by default)."""
    from concierge.apps.serve import run_serve

    raise typer.Exit(run_serve(config, directory, host, port, web_port, no_web))


@app.command()
def simulate(
    paths: Annotated[list[Path], typer.Argument(help="Recorded calls (.slin 8 kHz or .wav) or folders of them.")],
    config: ConfigOption = None,
    directory: DirectoryOption = None,
    speed: Annotated[float, typer.Option(help="Play the recordings this many times faster than real time.")] = 1.0,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Stream blindly instead of waiting for each reply.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON report instead of tables.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Save the concierge's side of each call as WAV here.")] = None,
    record: Annotated[
        Optional[Path], typer.Option("--record", help="Keep the call records in this SQLite file (default: a temporary one).")
    ] = None,
    resident: Annotated[
        Optional[list[Path]],
        typer.Option("--resident", help="Call the resident through a simulated Asterisk, who answers with this recording (.slin/.wav; a sidecar .json may add keys). Once per dial attempt, in order; no-answer and busy are attempts nobody picks up."),
    ] = None,
    resident_no_answer: Annotated[
        bool, typer.Option("--resident-no-answer", help="Call the resident through a simulated Asterisk; nobody picks up.")
    ] = False,
    condominium: CondominiumOption = None,
) -> None:
    """Stream recorded calls through the real pipeline, offline, and report what happened."""
    from concierge.apps.simulate import run_simulate

    raise typer.Exit(
        run_simulate(paths, config, directory, speed, no_wait, json_output, out, record, resident, resident_no_answer, condominium)
    )


@calls_app.callback(invoke_without_command=True)
def calls(
    context: typer.Context,
    since: Annotated[Optional[str], typer.Option(help="Only calls since a date (2026-11-01) or an age (24h, 7d).")] = None,
    outcome: Annotated[
        Optional[str], typer.Option(help="Only calls that ended so: completed, caller_hung_up, timed_out, error, live, interrupted.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many calls.")] = 20,
    condominium: Annotated[Optional[str], typer.Option(help="Only calls of this condominium (its id in config.json; 'default' for the top-level one).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only calls that started before a date (2026-11-02) or an age ago (24h).")] = None,
    apartment: Annotated[Optional[str], typer.Option(help="Only calls about this apartment (104, 'ap 104').")] = None,
    name: Annotated[Optional[str], typer.Option(help="Only calls whose visitor or resident name contains this (accents and case ignored).")] = None,
    decision: Annotated[Optional[str], typer.Option(help="Only visits the resident decided so: authorized, denied, no_answer, …")] = None,
    offset: Annotated[int, typer.Option(help="Skip this many matching calls (the next page).")] = 0,
    json_output: JsonOption = False,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """List the latest recorded calls, newest first."""
    if context.invoked_subcommand is not None:  # `calls --db F show ID`: the subcommand uses these too
        context.obj = {"config": config, "db": db, "json_output": json_output}
        return
    from concierge.apps.calls import CallFilters, run_list

    filters = CallFilters(until=until, apartment=apartment, name=name, decision=decision, offset=offset)
    raise typer.Exit(run_list(config, db, since, outcome, limit, json_output, condominium, filters))


@calls_app.command("show")
def calls_show(
    context: typer.Context,
    call_id: Annotated[str, typer.Argument(help="The call's id, or enough of its start to be unique.")],
    json_output: JsonOption = False,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Show one call: times, outcome and every turn with its transcript, reply, slots and latencies."""
    from concierge.apps.calls import run_show

    given = context.obj or {}
    json_output = json_output or given.get("json_output", False)
    raise typer.Exit(run_show(config or given.get("config"), db or given.get("db"), call_id, json_output))


@calls_app.command("purge")
def calls_purge(
    context: typer.Context,
    older_than_days: Annotated[
        Optional[float], typer.Option("--older-than-days", help="Delete calls older than this (default: records.retention_days).")
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Delete old calls and their transcripts (personal data, LGPD)."""
    from concierge.apps.calls import run_purge

    given = context.obj or {}
    raise typer.Exit(run_purge(config or given.get("config"), db or given.get("db"), older_than_days))


@app.command()
def mic(
    config: ConfigOption = None,
    host: Annotated[Optional[str], typer.Option(help="Address of `apoena serve` (default: server.host in config, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(min=1, max=65535, help="Its AudioSocket port (default: server.port in config, 9092).")] = None,
    input_device: Annotated[Optional[int], typer.Option("--input-device", help="Microphone index from --list-devices (default: the system's).")] = None,
    output_device: Annotated[Optional[int], typer.Option("--output-device", help="Speaker index from --list-devices (default: the system's).")] = None,
    list_devices: Annotated[bool, typer.Option("--list-devices", help="List audio devices with their indexes and exit.")] = False,
    condominium: CondominiumOption = None,
) -> None:
    """Call a running `apoena serve` from your microphone, as a phone through Asterisk would (needs the mic extra)."""
    from concierge.apps.mic import run_list_devices, run_mic

    if list_devices:
        raise typer.Exit(run_list_devices())
    raise typer.Exit(run_mic(config, host, port, input_device, output_device, condominium))


def main() -> None:
    """Run one command and exit by the rule in concierge.errors; every mistake is one line on stderr."""
    try:
        code = app(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        error.show()  # `apoena` alone: the help, as a usage mistake
        sys.exit(EXIT_USAGE)
    except click.ClickException as error:  # a bad option or argument, as click words it
        command = f" — see '{error.ctx.command_path} --help'" if isinstance(error, click.UsageError) and error.ctx else ""
        _fail(f"{error.format_message()}{command}", EXIT_USAGE)
    except UserError as error:
        _fail(str(error), error.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _fail(message: str, code: int) -> NoReturn:
    line = " ".join(message.split())  # one line, whatever the message held
    print(f"\033[31merror:\033[0m {line}" if sys.stderr.isatty() else f"error: {line}", file=sys.stderr)
    sys.exit(code)
