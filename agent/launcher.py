"""The zipapp's entry point: say clearly which Python the agent needs, then run the CLI.

Written for any Python 3 so that an old interpreter reads this message instead of a
SyntaxError or a missing module deep inside the agent.
"""

import sys

SUPPORTED = ((3, 11), (3, 14))


def main() -> int:
    if not SUPPORTED[0] <= sys.version_info[:2] <= SUPPORTED[1]:
        low, high = (".".join(str(part) for part in bound) for bound in SUPPORTED)
        found = ".".join(str(part) for part in sys.version_info[:3])
        sys.stderr.write(
            "shadowmap-agent: this zipapp runs on CPython "
            + low
            + " to "
            + high
            + ", not "
            + found
            + " ("
            + sys.executable
            + "); use the deb, rpm, msi or pkg package, which "
            "bring their own runtime\n"
        )
        return 3
    from agent.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
