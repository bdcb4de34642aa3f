"""`apoena chat`: serve a visitor by text — interactively, or one utterance per stdin line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from concierge.apps.common import Setup, configure_logging, load_setup
from concierge.brain.reply import Reply

MAX_LINE_BYTES = 64 * 1024
NEW_CONVERSATION_COMMANDS = {"/nova", "/new"}


def run_chat(
    config_path: Path | None,
    directory_path: Path | None,
    brain: str | None,
    conversation_id: str | None,
    as_json: bool,
) -> int:
    configure_logging()
    setup = load_setup(config_path, directory_path, brain)
    conversation = conversation_id or setup.concierge.new_conversation_id()
    try:
        if sys.stdin.isatty():
            return _interactive(setup, conversation, as_json)
        return _scripted(setup, conversation, as_json, sys.stdin.buffer)
    finally:
        setup.concierge.store.close()


def read_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[str]:
    """Decoded lines of any bytes; an over-long line is cut at `limit` and its rest skipped."""
    while True:
        chunk = stream.readline(limit)
        if not chunk:
            return
        if not chunk.endswith(b"\n"):
            while (rest := stream.readline(limit)) and not rest.endswith(b"\n"):
                pass
        yield chunk.decode("utf-8", errors="replace").rstrip("\r\n")


def _scripted(setup: Setup, conversation: str, as_json: bool, stream: BinaryIO) -> int:
    for line in read_lines(stream):
        if not line.strip():
            conversation = setup.concierge.new_conversation_id()
            continue
        reply = setup.concierge.respond(conversation, line)
        if as_json:
            print(reply.model_dump_json(), flush=True)
        else:
            print(f"{reply.mensagem}\t{_slots_line(reply)}", flush=True)
    return 0


def _interactive(setup: Setup, conversation: str, as_json: bool) -> int:
    from rich.console import Console
    from rich.prompt import Prompt

    console = Console()
    console.print(f"[dim]conversa {conversation} · /nova começa outra · Ctrl-D sai[/]")
    console.print(f"[bold cyan]Concierge:[/] {setup.config.greeting.message}")
    while True:
        try:
            line = Prompt.ask("[bold]Visitante[/]", console=console)
        except (EOFError, KeyboardInterrupt):
            console.print()
            return 0
        if line.strip() in NEW_CONVERSATION_COMMANDS:
            conversation = setup.concierge.new_conversation_id()
            console.print(f"[dim]conversa {conversation}[/]")
            console.print(f"[bold cyan]Concierge:[/] {setup.config.greeting.message}")
            continue
        if not line.strip():
            continue
        reply = setup.concierge.respond(conversation, line)
        if as_json:
            console.print_json(reply.model_dump_json())
            continue
        console.print(f"[bold cyan]Concierge:[/] {reply.mensagem}")
        console.print(_slots_table(reply))


def _slots_line(reply: Reply) -> str:
    d = reply.dados
    return (
        f"[{d.intent_type.value} | visitante={d.visitor_name or '-'} | ap={d.apartment_number or '-'} | "
        f"morador={d.resident_name or '-'} | {'VÁLIDO' if reply.valid_for_action else reply.set_call_status.value}]"
    )


def _slots_table(reply: Reply) -> object:
    from rich.table import Table

    d = reply.dados
    table = Table(show_header=True, header_style="dim", box=None, padding=(0, 2))
    for column in ("intenção", "visitante", "apartamento", "morador", "status"):
        table.add_column(column)
    status = "[green]válido[/]" if reply.valid_for_action else reply.set_call_status.value
    table.add_row(d.intent_type.value, d.visitor_name or "—", d.apartment_number or "—", d.resident_name or "—", status)
    return table
