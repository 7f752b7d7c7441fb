"""The one place that knows PyPI ``mach`` 1.0.0 and ``manifestparser`` 2.1.0
predate Python 3.10.

Both import names that moved to ``collections.abc`` (``collections.Iterable``,
``collections.MutableSequence``, ...) and mach calls ``inspect.getargspec``
(removed in 3.11) and ``imp`` (removed in 3.12). ``patch_stdlib()`` puts the
old names back, only where they are missing, so on fixed releases it does
nothing. It never forks or edits the packages.

``adopt_function_commands()`` lets the old class-based mach (PyPI 1.0.0) run a
``mach_commands.py`` written in today's mozilla-central style: plain
functions decorated with ``@Command``/``@CommandArgument`` taking a
``command_context``. The old ``@Command`` accepts only a few keywords, so
``ModernCommand`` drops the ones it does not know (``virtualenv_name``, ...).

Nothing in here imports mach: the standalone ``./mach`` driver passes its
decorators in.
"""

import collections
import collections.abc
import importlib.util
import inspect
import sys
import types

_ABC_NAMES = ("Iterable", "Mapping", "MutableMapping", "MutableSequence", "Sequence", "Callable")


def patch_collections():
    """Restore ``collections.Iterable`` & co. (moved to ``collections.abc``):
    all that PyPI manifestparser 2.1.0 needs (selection/mozilla_reader.py)."""
    for name in _ABC_NAMES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def patch_stdlib():
    """Restore the pre-3.10 names that PyPI mach and manifestparser use."""
    patch_collections()
    if not hasattr(inspect, "getargspec"):
        # mach 1.0.0 only reads ``.args`` of the result.
        inspect.getargspec = inspect.getfullargspec
    if "imp" not in sys.modules:
        try:
            import imp  # noqa: F401  (present, deprecated, until 3.12)
        except ImportError:
            sys.modules["imp"] = _imp_standin()


def _imp_standin():
    mod = types.ModuleType("imp")

    def load_source(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    mod.new_module = types.ModuleType
    mod.load_source = load_source
    return mod


# Keywords of today's @Command that mach 1.0.0's _MachCommand does not take.
MODERN_ONLY_KEYWORDS = (
    "virtualenv_name",
    "ok_if_tests_disabled",
    "metrics_path",
    "no_auto_log",
    "hidden",
    "order",
)


def modern_decorators(decorators_module):
    """Return a ``mach.decorators`` stand-in whose ``Command`` and
    ``SubCommand`` accept today's keywords on top of the old ones."""
    old_command = decorators_module.Command
    old_subcommand = decorators_module.SubCommand

    class ModernCommand(old_command):
        def __init__(self, name, **kwargs):
            for key in MODERN_ONLY_KEYWORDS:
                kwargs.pop(key, None)
            if kwargs.get("parser") is not None:
                kwargs["parser"] = _named_parser(kwargs["parser"], name)
            super().__init__(name, **kwargs)

    class ModernSubCommand(old_subcommand):
        def __init__(self, command, subcommand, description=None, parser=None, **kwargs):
            if parser is not None:
                parser = _named_parser(parser, command + " " + subcommand)
            super().__init__(command, subcommand, description=description, parser=parser)

    mod = types.ModuleType(decorators_module.__name__)
    mod.__dict__.update(decorators_module.__dict__)
    mod.Command = ModernCommand
    mod.SubCommand = ModernSubCommand
    return mod


def _named_parser(parser, command):
    """Today's mach dispatcher appends the command to the parser's ``prog``
    (``mach`` becomes ``mach parallel-test``); mach 1.0.0 does not."""

    def make():
        made = parser() if callable(parser) else parser
        made.prog = "%s %s" % (made.prog, command)
        return made

    return make


def adopt_function_commands(module, command_provider, make_context):
    """Register the function-style commands found in ``module`` with the old
    mach, by wrapping them in a generated ``@CommandProvider`` class.

    ``make_context(mach_context)`` builds the ``command_context`` that each
    function receives as its first argument.
    """
    functions = {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, types.FunctionType) and hasattr(value, "_mach_command")
    }

    def bind(func):
        def method(self, *args, **kwargs):
            return func(make_context(self._mach_context), *args, **kwargs)

        method.__name__ = func.__name__
        method.__doc__ = func.__doc__
        method._mach_command = func._mach_command
        return method

    def __init__(self, context):
        self._mach_context = context

    namespace = {"__init__": __init__}
    namespace.update({name: bind(func) for name, func in functions.items()})
    provider = type("FunctionStyleCommands", (object,), namespace)
    return command_provider(provider)


def help_lists_command_options(dispatcher_module):
    """mach 1.0.0 answers ``mach CMD --help`` for a command that has
    sub-commands with the sub-command list alone; today's mach also shows
    the command's own arguments. Do the same (used by the ./mach driver)."""
    action = dispatcher_module.CommandAction
    original = action._handle_subcommand_main_help
    if getattr(original, "_mozparallel", False):
        return

    def handle(self, parser, handler):
        original(self, parser, handler)
        own = handler.parser
        if own is not None:
            print("")
            own.print_help()

    handle._mozparallel = True
    action._handle_subcommand_main_help = handle

