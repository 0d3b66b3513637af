"""Run the CLI as ``python -m scripts``."""

from scripts.cli import main

main()
