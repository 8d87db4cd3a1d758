"""`facegraph serve`: the review page of the store the settings name (registered with `cli.add_command(serve)`)."""

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on (0: any free one).")
@click.pass_obj
def serve(settings, host, port):
    """Serve a page to review persons and correct them in a browser, until Ctrl+C."""
    from facegraph.cli import graph_from  # imported here: facegraph.cli imports this module
    from facegraph.review.server import serve as run

    with graph_from(settings) as graph:
        run(graph, host=host, port=port, ready=lambda url: click.echo(f"reviewing persons at {url} (Ctrl+C to stop)"))
