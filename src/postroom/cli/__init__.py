"""The command line: ``postroom ...`` (Typer + Rich). The only place, with the web app and the
worker, that builds real engines and wires the layers together."""
