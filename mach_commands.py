# This Source Code Form is subject to the terms of the Mozilla Public
# License, v. 2.0. If a copy of the MPL was not distributed with this
# file, You can obtain one at http://mozilla.org/MPL/2.0/.
"""mach parallel-test: argument wiring only. The library is imported inside
the functions, so mach can list the command without loading it; the
parsers are the library's own, shared with the standalone paralleltest.

What a gecko checkout needs to load this file: docs/gecko-integration.rst.
mach reads this file's decorators without running it to choose the Python
site (``virtualenv_name``): command names and site names must stay string
literals. Today's mach appends the command (and sub-command) to the
parser's ``prog``, so the parsers are named plain ``mach``."""

from mach.decorators import Command, SubCommand


def setup_argument_parser():
    from mozparallel.cli import build_parser

    return build_parser(prog="mach")


def subcommand_parser(name):
    def make():
        from mozparallel.cli import subcommand_parser

        return subcommand_parser(name, "mach")

    return make


def run_subcommand(command_context, name, kwargs):
    from mozparallel.cli import run_subcommand_parsed

    return run_subcommand_parsed(name, kwargs, topobjdir=command_context.topobjdir)


@Command(
    "parallel-test",
    category="testing",
    virtualenv_name="python-test",
    description="Run test files in parallel; read TAP/TBPL/mozlog output live; report through mozlog.",
    parser=setup_argument_parser,
)
def parallel_test(command_context, test_objects=None, log=None, **kwargs):
    # test_objects and log: what ``mach test`` passes the command it
    # dispatches to (docs/gecko-integration.rst, "Dispatch from mach test").
    # The tests become TEST arguments; the run logs through its own --log-*
    # options, not through mach test's logger.
    from mozparallel.cli import run_from_args

    if test_objects:
        from mozparallel.selection.resolve import paths_of_test_objects

        tests = paths_of_test_objects(test_objects, getattr(command_context, "topsrcdir", None))
        kwargs["tests"] = list(kwargs.get("tests") or []) + tests
    return run_from_args(kwargs, topobjdir=command_context.topobjdir)


@SubCommand("parallel-test", "history", description="Slowest, biggest, least stable tests from the stored history.",
            virtualenv_name="python-test", parser=subcommand_parser("history"))
def parallel_test_history(command_context, **kwargs):
    return run_subcommand(command_context, "history", kwargs)


@SubCommand("parallel-test", "runtimes", description="Export the history as a mozilla-central runtimes JSON.",
            virtualenv_name="python-test", parser=subcommand_parser("runtimes"))
def parallel_test_runtimes(command_context, **kwargs):
    return run_subcommand(command_context, "runtimes", kwargs)


@SubCommand("parallel-test", "plan", description="Print the chunks of a suite and their expected durations.",
            virtualenv_name="python-test", parser=subcommand_parser("plan"))
def parallel_test_plan(command_context, **kwargs):
    return run_subcommand(command_context, "plan", kwargs)


@SubCommand("parallel-test", "merge", description="One report from the raw logs of many chunks or machines.",
            virtualenv_name="python-test", parser=subcommand_parser("merge"))
def parallel_test_merge(command_context, **kwargs):
    return run_subcommand(command_context, "merge", kwargs)


@SubCommand("parallel-test", "simulate", description="Predicted makespan on W workers for each scheduling policy.",
            virtualenv_name="python-test", parser=subcommand_parser("simulate"))
def parallel_test_simulate(command_context, **kwargs):
    return run_subcommand(command_context, "simulate", kwargs)


@SubCommand("parallel-test", "worker", description="Run a Celery worker that executes tests for a --broker run.",
            virtualenv_name="python-test", parser=subcommand_parser("worker"))
def parallel_test_worker(command_context, **kwargs):
    return run_subcommand(command_context, "worker", kwargs)


@SubCommand("parallel-test", "cancel", description="Cancel a --broker run: drop its queued tests, end its running ones.",
            virtualenv_name="python-test", parser=subcommand_parser("cancel"))
def parallel_test_cancel(command_context, **kwargs):
    return run_subcommand(command_context, "cancel", kwargs)


@SubCommand("parallel-test", "bisect", description="Name the test that breaks a test when they run together.",
            virtualenv_name="python-test", parser=subcommand_parser("bisect"))
def parallel_test_bisect(command_context, **kwargs):
    return run_subcommand(command_context, "bisect", kwargs)


@SubCommand("parallel-test", "annotate",
            description="Propose manifest edits (run-sequentially, skip-if, fail-if) from the history.",
            virtualenv_name="python-test", parser=subcommand_parser("annotate"))
def parallel_test_annotate(command_context, **kwargs):
    return run_subcommand(command_context, "annotate", kwargs)
