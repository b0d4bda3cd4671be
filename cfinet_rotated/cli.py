"""What every tool's command line shares: ``--help`` shows each option's default and keeps the usage examples
of the description as written (``tests/test_tools_help.py`` checks every tool)."""
import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in ``--help`` (``(default: ...)``) and the description's line breaks kept. Options without a
    default (None) and flags (False) show none: their help says what happens when they are not given."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def tool_parser(description, **kwargs):
    """An ``ArgumentParser`` with :class:`HelpFormatter`; ``description`` should hold a usage example."""
    return argparse.ArgumentParser(description=description, formatter_class=HelpFormatter, **kwargs)
