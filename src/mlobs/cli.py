"""The `mlobs` command line."""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import ValidationError

from mlobs import __version__, registry

VERSION = f"mlobs {__version__}"


def _train(args: argparse.Namespace) -> int:
    from mlobs.settings import get_settings

    info = registry.load(args.service).train(get_settings(), progress=not args.quiet)
    print(f"{info.name} model version {info.version}: {info.metrics}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from mlobs.serve import serve

    return serve(args.service, host=args.host, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    from mlobs.acceptance.cli import register as register_acceptance
    from mlobs.audit.cli import register as register_audit
    from mlobs.investigate.cli import register as register_investigate
    from mlobs.traffic.cli import register as register_traffic

    parser = argparse.ArgumentParser(prog="mlobs", description=__doc__)
    parser.add_argument("--version", action="version", version=VERSION)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="build a model artifact deterministically")
    train.add_argument("service", choices=registry.model_names())
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    serve = sub.add_parser("serve", help="serve a model (training it first if its artifact is missing)")
    serve.add_argument("service", choices=registry.service_names())
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)

    register_traffic(sub)
    register_audit(sub)
    register_investigate(sub)
    register_acceptance(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        print(VERSION)  # before the parser: its subcommands import what only the extras install
        return 0
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValidationError as exc:
        from mlobs.settings import Settings, settings_problems

        if exc.title != Settings.__name__:
            raise
        print(f"mlobs: {settings_problems(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`mlobs audit query | head`): stop without a traceback, and with
        # what a shell reports for a tool ended by SIGPIPE, so that no one mistakes it for a
        # verification failure (1). Output still buffered goes to /dev/null at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
