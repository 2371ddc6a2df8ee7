"""`python -m pizzeria` runs the command line."""

from pizzeria.cli import main

main()
