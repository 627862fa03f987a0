"""``python -m sim``: the same command line as the ``sim`` script."""

from sim.cli import run

if __name__ == "__main__":
    run()
