"""Where state outlives one call or is shared between nodes: the SQL databases call records are
kept in (SQLite by default, PostgreSQL for a central), their schema and migrations, the local
spool that holds record writes while PostgreSQL cannot be reached, and live call state in Redis.

Nothing here knows what a call is: `concierge.call.records` and `concierge.web.live` give the
meaning; this floor stores, versions, retries and expires."""
