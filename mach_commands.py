# This Source Code Form is subject to the terms of the Mozilla Public
# License, v. 2.0. If a copy of the MPL was not distributed with this
# file, You can obtain one at http://mozilla.org/MPL/2.0/.
"""mach parallel-test: argument wiring only. The library is imported inside
the functions, so mach can list the command without loading it."""

from mach.decorators import Command


def setup_argument_parser():
    from mozparallel.cli import build_parser

    return build_parser(prog="mach parallel-test")


@Command(
    "parallel-test",
    category="testing",
    virtualenv_name="python-test",
    description="Run test files in parallel; read TAP/TBPL/mozlog output live; report through mozlog.",
    parser=setup_argument_parser,
)
def parallel_test(command_context, **kwargs):
    from mozparallel.cli import run_from_args

    return run_from_args(kwargs, topobjdir=command_context.topobjdir)
