"""What every tool's command line shares: ``--help`` shows each option's default and keeps the usage examples
of the description as written (``tests/test_tools/test_tools_help.py`` checks every tool)."""
import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default in ``--help`` and the description's line breaks kept: ``(default: X)``; an option
    whose default is None shows ``(default: unset)`` (its help says what happens then), a flag ``(default: off)``.
    Positional and required arguments show none."""

    def _get_help_string(self, action):
        help_text = action.help or ''
        if '%(default)' in help_text or not action.option_strings or action.required \
                or action.default is argparse.SUPPRESS:
            return help_text
        if action.default is None:
            return help_text + ' (default: unset)'
        if action.default is False and action.nargs == 0:
            return help_text + ' (default: off)'
        return help_text + ' (default: %(default)s)'


def tool_parser(description, **kwargs):
    """An ``ArgumentParser`` with :class:`HelpFormatter`; ``description`` should hold a usage example."""
    return argparse.ArgumentParser(description=description, formatter_class=HelpFormatter, **kwargs)
