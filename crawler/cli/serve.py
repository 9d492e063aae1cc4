"""`docwatch serve`: the review workbench, a local web app over the database (crawler/workbench/)."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from pathlib import Path

import click

from crawler.cli.app import App, BadInput, pass_app, setting_option
from crawler.config.settings import SERVE_TOKEN_ENV

MIN_TOKEN_CHARS = 16
LOG_FILE = "workbench.log"  # in DATA_DIR/logs: the server's warnings and the tracebacks of unexpected errors


class OneLine(logging.Formatter):
    """The terminal gets one line per problem; its traceback goes to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(logging.makeLogRecord({**record.__dict__, "msg": record.getMessage().strip(), "args": None,
                                                     "exc_info": None, "exc_text": None}))


def log_config(log_file: Path) -> dict:
    """uvicorn's logging: warnings and errors to the terminal in one line, in full to `log_file`."""
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {
            "line": {"()": OneLine, "format": f"docwatch serve: %(levelname)s: %(message)s (details in {log_file})"},
            "full": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "terminal": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"},
            "file": {"class": "logging.FileHandler", "formatter": "full", "filename": str(log_file), "delay": True},
        },
        "loggers": {"uvicorn.error": {"handlers": ["terminal", "file"], "level": "WARNING", "propagate": False}},
    }


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: a free one), so a port in use is a clear error and
    the address printed is the one served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as error:
        sock.close()
        reason = getattr(error, "strerror", None) or str(error)
        raise BadInput(f"cannot listen on {host}:{port}: {reason}; choose another --port (or --host)") from None
    sock.listen(128)
    return sock


@click.command()
@setting_option("--host", "serve_host", "Address to listen on. Any other than this machine's (127.0.0.1) needs"
                f" the environment variable {SERVE_TOKEN_ENV}.")
@setting_option("--port", "serve_port", "Port to listen on (0: any free one).", type=click.IntRange(0, 65535))
@pass_app
def serve(app: App, host: str, port: int) -> None:
    """The review workbench: a web app over the database to triage events, read diffs and
    evidence, search every version of every page, and record review work (reviewed, tags, a
    note). Runs with the daemon or without it; Ctrl-C stops it."""
    import uvicorn

    from crawler.workbench import make_app

    token = os.environ.get(SERVE_TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise BadInput(f"--host {host} serves the workbench beyond this machine: set {SERVE_TOKEN_ENV} to a secret of at"
                       f" least {MIN_TOKEN_CHARS} characters (e.g. from `python3 -c 'import secrets;"
                       f" print(secrets.token_urlsafe())'`) and give it to the people who may open it, or serve"
                       " on 127.0.0.1")
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise BadInput(f"{SERVE_TOKEN_ENV} has {len(token)} characters: give at least {MIN_TOKEN_CHARS}")
    app.database().close()  # it exists and is migrated: the workbench then reads it read-only
    sock = listening_socket(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    workbench = make_app(app.config.db_path, app.config.warc_dir, token=token,
                         allowed_hosts=["127.0.0.1", "localhost", host] if is_loopback(host) else ["*"])
    click.echo(f"docwatch workbench at http://{shown_host}:{bound_port}/ (database {app.config.db_path}); Ctrl-C stops it.")
    if token:
        click.echo(f"Open it once as http://{shown_host}:{bound_port}/?token=<the value of {SERVE_TOKEN_ENV}>.")
    app.config.log_dir.mkdir(parents=True, exist_ok=True)
    server = uvicorn.Server(uvicorn.Config(workbench, log_config=log_config(app.config.log_dir / LOG_FILE),
                                           server_header=False, lifespan="off"))
    server.run(sockets=[sock])
