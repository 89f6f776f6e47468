from __future__ import annotations

import sys


def main() -> None:
    from .cli.fast import main_fast

    code = main_fast(sys.argv[1:])
    if code is None:
        from .cli.app import run

        code = run(sys.argv[1:])
    sys.exit(code)


if __name__ == "__main__":
    main()
