"""Drive ``mach_commands.py`` with the PyPI mach (1.0.0, class-based API).

mozilla-central's mach loads function-style commands itself; the PyPI
release only knows ``@CommandProvider`` classes, so the adaptation lives in
``mozparallel.compat`` and this file only wires it up.
"""

import importlib.util
import os
import sys

TOPSRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class StandaloneCommandContext:
    """The part of mozbuild's MachCommandBase that our commands use."""

    def __init__(self, mach_context):
        self._mach_context = mach_context
        self.topsrcdir = TOPSRCDIR
        self.topobjdir = os.environ.get("MOZ_OBJDIR") or None

    @property
    def statedir(self):
        return os.path.join(self.topobjdir, ".mozbuild") if self.topobjdir else None

    def log(self, level, action, params, format_str):
        print(format_str.format(**params), file=sys.stderr)


def main(argv):
    from mozparallel import compat

    compat.patch_stdlib()
    import mach.decorators
    import mach.dispatcher
    from mach.main import Mach

    compat.help_lists_command_options(mach.dispatcher)

    # mach_commands.py imports today's decorators; give it a module whose
    # Command takes today's keywords.
    sys.modules["mach.decorators"] = compat.modern_decorators(mach.decorators)
    driver = Mach(os.getcwd())
    driver.define_category("testing", "Testing", "Run tests.", 60)

    spec = importlib.util.spec_from_file_location(
        "mozparallel_mach_commands", os.path.join(TOPSRCDIR, "mach_commands.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compat.adopt_function_commands(module, mach.decorators.CommandProvider, StandaloneCommandContext)
    sys.argv[0] = os.path.join(TOPSRCDIR, "mach")
    return driver.run(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
