"""``python -m flowtrace``: the same command line as the ``flowtrace`` script."""

from flowtrace.cli import main

if __name__ == "__main__":
    main()
