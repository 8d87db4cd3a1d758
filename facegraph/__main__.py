"""`python -m facegraph`: the command line, as `facegraph`."""

from facegraph.cli import main

main()
