"""``mailflow config``: the settings in effect, after file, environment and flags."""

from __future__ import annotations

import typer

from mailflow.cli.app import app, handles_errors, out, print_json, settings, state
from mailflow.store.engine import safe_url


@app.command("config")
@handles_errors
def show_config(
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the settings in effect (passwords hidden) and which file they came from."""
    current = settings()
    data = current.model_dump(mode="json")  # SecretStr dumps as "**********"
    if data["database"]["url"]:
        data["database"]["url"] = safe_url(data["database"]["url"])  # a password may sit in the URL
    if json_:
        print_json(data)
        return
    from mailflow.config import find_config

    source = find_config(state.config_path)
    out.print(f"# config file: {source or 'none (embedded defaults)'}")
    for section, values in data.items():
        if not isinstance(values, dict):
            continue
        out.print(f"[{section}]", markup=False)
        for key, value in values.items():
            out.print(f"{key} = {value!r}", markup=False)
