"""A small Asterisk Manager server for tests: the real wire format over a real TCP socket.

It sends the banner, answers Login, Ping, Setvar, Getvar, Logoff and Originate the way Asterisk
22 does, and can be told to refuse logins, to let an originated call ring out, be busy, or to
drop the connection in the middle of an originate.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from concierge.asterisk.protocol import Message, encode_message

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


@dataclass
class FakeAMI:
    username: str = "apoena"
    secret: str = "s3cret"
    originate_outcome: str = "answer"  # answer | no_answer | busy | congestion | drop | refuse
    outcomes: dict[str, str] = field(default_factory=dict)  # per channel, over originate_outcome
    ring_delay: float = 0.05
    silent: bool = False  # stop answering (a hung Asterisk), keeping the socket open
    actions: list[Message] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> FakeAMI:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def broadcast(self, *headers: tuple[str, str]) -> None:
        for writer in self._writers:
            if not writer.is_closing():
                writer.write(encode_message(headers))
                await writer.drain()

    def drop_all(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        writer.write(BANNER)
        logged_in = False
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                action = Message(
                    tuple((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in block.decode().split("\r\n") if line))
                )
                self.actions.append(action)
                if self.silent:
                    continue
                name, action_id = (action.get("Action") or "").lower(), action.get("ActionID") or ""
                reply = [("Response", "Success"), ("ActionID", action_id)]
                if name == "login":
                    if (action.get("Username"), action.get("Secret")) != (self.username, self.secret):
                        writer.write(encode_message([("Response", "Error"), ("ActionID", action_id), ("Message", "Authentication failed")]))
                        await writer.drain()
                        writer.close()
                        return
                    logged_in = True
                    writer.write(encode_message([*reply, ("Message", "Authentication accepted")]))
                    writer.write(encode_message([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")]))
                elif not logged_in:
                    writer.write(encode_message([("Response", "Error"), ("ActionID", action_id), ("Message", "Permission denied")]))
                elif name == "ping":
                    writer.write(encode_message([*reply, ("Ping", "Pong"), ("Timestamp", "1764645000.000000")]))
                elif name == "setvar":
                    self.variables[action.get("Variable") or ""] = action.get("Value") or ""
                    writer.write(encode_message([*reply, ("Message", "Variable Set")]))
                elif name == "getvar":
                    variable = action.get("Variable") or ""
                    value = self.variables.get(variable, "")
                    writer.write(encode_message([*reply, ("Variable", variable), ("Value", value)]))
                elif name == "logoff":
                    writer.write(encode_message([("Response", "Goodbye"), ("ActionID", action_id), ("Message", "Thanks for all the fish.")]))
                    await writer.drain()
                    writer.close()
                    return
                elif name == "originate":
                    await self._originate(writer, action, action_id)
                else:
                    writer.write(encode_message([("Response", "Error"), ("ActionID", action_id), ("Message", "Invalid/unknown command")]))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def _originate(self, writer: asyncio.StreamWriter, action: Message, action_id: str) -> None:
        outcome = self.outcomes.get(action.get("Channel") or "", self.originate_outcome)
        if outcome == "refuse":
            writer.write(encode_message([("Response", "Error"), ("ActionID", action_id), ("Message", "Originate failed")]))
            return
        writer.write(encode_message([("Response", "Success"), ("ActionID", action_id), ("Message", "Originate successfully queued")]))
        await writer.drain()
        if outcome == "drop":
            writer.transport.abort()
            return
        await asyncio.sleep(self.ring_delay)
        writer.write(encode_message([("Event", "Newchannel"), ("Privilege", "call,all"), ("Channel", action.get("Channel") + "-00000001")]))
        result, reason = {
            "answer": ("Success", "4"), "no_answer": ("Failure", "3"), "busy": ("Failure", "5"), "congestion": ("Failure", "8"),
        }[outcome]
        writer.write(
            encode_message(
                [
                    ("Event", "OriginateResponse"), ("Privilege", "call,all"), ("ActionID", action_id), ("Response", result),
                    ("Channel", action.get("Channel") or ""), ("Context", action.get("Context") or ""),
                    ("Exten", action.get("Exten") or ""), ("Application", ""), ("Data", ""), ("Reason", reason),
                    ("Uniqueid", "1764645000.42" if result == "Success" else "<null>"),
                    ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"),
                ]
            )
        )
