"""`python -m concierge` is `apoena`."""

from concierge.cli import main

main()
