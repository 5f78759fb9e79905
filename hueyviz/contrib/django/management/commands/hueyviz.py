"""``python manage.py hueyviz COMMAND [ARGS...]``: the hueyviz command line
with the project's queues as the default source.

Everything after ``hueyviz`` goes to :func:`hueyviz.cli.main` untouched
(``--json``, ``-o DIR``, ``--workers``...), so every CLI command works here,
new ones included.  A reading command given no SOURCE reads the queues'
sinks (:func:`~hueyviz.contrib.django.project.queue_sources`), merged into
one trace: ``manage.py hueyviz diagnose --json`` prints what
``hueyviz diagnose <those URLs> --json`` prints.
"""
from __future__ import annotations

import argparse
import sys
from typing import List

from django.core.management.base import BaseCommand, CommandError

PROG = "manage.py hueyviz"
# Options ManagementUtility already applied before the command runs.
_DJANGO_OPTIONS = ("--settings", "--pythonpath")


def run(argv: List[str]) -> int:
    from hueyviz.cli import main
    from hueyviz.contrib.django.project import find_queues, queue_sources
    return main(list(argv), prog=PROG, default_source=queue_sources,
                default_hueys=find_queues)


def strip_django_options(argv: List[str]) -> List[str]:
    """``argv`` without Django's ``--settings``/``--pythonpath`` (and their values)."""
    out: List[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--":
            return out + argv[i:]
        if arg in _DJANGO_OPTIONS:
            skip = True
            continue
        if arg.startswith(tuple(o + "=" for o in _DJANGO_OPTIONS)):
            continue
        out.append(arg)
    return out


class Command(BaseCommand):
    help = ("Run the hueyviz command line (diagnose, render, whatif, record, ...) with "
            "this project's Huey queues as the default source.")

    def run_from_argv(self, argv: List[str]) -> None:
        # The CLI parses its own arguments and prints its own one-line
        # errors; Django's parser would reject options it does not know.
        sys.exit(run(strip_django_options(argv[2:])))

    def print_help(self, prog_name: str, subcommand: str) -> None:
        run(["--help"])

    def add_arguments(self, parser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER, metavar="COMMAND [ARGS...]")

    def handle(self, *args, **options) -> None:
        # call_command("hueyviz", "diagnose", "--json"): the same, with the
        # exit status in a CommandError when it is not 0.
        code = run(list(args))
        if code:
            raise CommandError(f"hueyviz exited with status {code}", returncode=code)
