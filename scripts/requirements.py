"""Print the requirements declared in setup.cfg, one per line, for pip.

The project is a set of scripts rather than an installable package, so the
Makefile installs exactly the dependencies setup.cfg declares (runtime plus the
extras named on the command line) instead of building a wheel.
"""
import configparser
import pathlib
import sys


def requirements(extras: list[str]) -> list[str]:
    cfg = configparser.ConfigParser()
    cfg.read(pathlib.Path(__file__).resolve().parent.parent / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in extras:
        lines += cfg["options.extras_require"][extra].splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1:])))
