"""`python -m mash` and the `mash` command."""

import signal
import sys


def run() -> None:
    try:
        from mash.cli.main import main
    except KeyboardInterrupt:
        # Ctrl-C while the command is still loading: nothing has started, so nothing to say,
        # even if Ctrl-C comes again.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
