"""``python -m fsfer``: the same as the ``fsfer`` command."""

from fsfer.cli import main

if __name__ == "__main__":
    main()
