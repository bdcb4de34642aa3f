"""One call: the turn state machine and the session that runs it over a connection."""
