"""`python -m dodo_inngest_cli`."""

from .cli import main

main()
