"""`python -m dodo_inngest_cli`."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: the same exit as any other interruption
    sys.stderr.write("error: interrupted\n")
    sys.exit(130)

main()
