"""The command line: typer commands, one module per group.

This package is the only place in mailflow that prints or exits.
"""
