"""The ``lakebox`` command's entry point: ``lakebox --help`` from a cache, everything else through click.

Rendering the top-level help means importing click and the settings' declaration, which is most of the
command's start-up: about 80 ms on a 2-core machine where Python itself starts in 15-20 ms. The text only
changes when lakebox, click, Python or the terminal's width change, so the first ``lakebox --help`` renders it
with click and keeps it under ``$XDG_CACHE_HOME/lakebox/`` (``~/.cache/lakebox/``), and later ones print it
without importing either.

The cache file starts with its full key: the Python version, the program name, the terminal's width, and
the size and modification time of every module of lakebox and of click. A file whose key differs in any of
these is rendered again, so an upgraded or edited lakebox never prints stale help. A cache folder that cannot
be written only means the next ``--help`` renders again. Every other command line goes straight to
:func:`lakebox.cli.main`.
"""

from __future__ import annotations

import os
import sys
import zlib

#: The command lines answered from the cache: the top-level help, nothing else.
HELP_ARGS = (["--help"], ["-h"])


def main() -> None:
    """``lakebox``: the top-level help from the cache when it is current, else the click application."""
    if sys.argv[1:] in HELP_ARGS:
        key = help_key()
        text = read_cached(key)
        if text is None:
            text = render_help()
            write_cached(key, text)
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # A reader that stopped early (`lakebox --help | head`) is no failure, as in LakeboxGroup; stdout
            # points at /dev/null so that Python's own flush at exit cannot fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    from lakebox.cli import main as cli_main

    cli_main()


def program_name() -> str:
    """The name click shows in ``Usage:`` for a console script: its file name. (``python -m lakebox`` does
    not come here: it runs :mod:`lakebox.__main__`, straight into click.)"""
    return os.path.basename(sys.argv[0]) or "lakebox"


def render_help() -> str:
    """The top-level help exactly as ``click`` prints it for ``lakebox --help``."""
    from lakebox.cli import main as cli_main

    ctx = cli_main.make_context(program_name(), [], resilient_parsing=True)
    return cli_main.get_help(ctx) + "\n"  # click's echo ends the text with a newline


def _modules(folder: str) -> list[str]:
    """Every ``.py`` file under ``folder``, with its size and modification time (no bytecode caches)."""
    out: list[str] = []
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False) and e.name != "__pycache__":
                    stack.append(e.path)
                elif e.name.endswith(".py"):
                    st = e.stat()
                    out.append(f"{e.path}:{st.st_size}:{st.st_mtime_ns}")
    return sorted(out)


def _click_folder() -> str | None:
    for entry in sys.path:
        folder = os.path.join(entry or ".", "click")
        if os.path.isfile(os.path.join(folder, "core.py")):
            return folder
    return None


def help_key() -> str:
    """Everything the top-level help text depends on, as one string (see the module docstring)."""
    import shutil

    click_folder = _click_folder()
    parts = [sys.version, program_name(), str(shutil.get_terminal_size().columns),
             *_modules(os.path.dirname(os.path.abspath(__file__))),
             *(_modules(click_folder) if click_folder else ["no click"])]
    return "\n".join(parts)


def cache_file(key: str) -> str | None:
    """Where the help for ``key`` is kept: one file per key's checksum (the file holds the key itself). None
    when there is no absolute cache folder (``XDG_CACHE_HOME`` must be absolute, as its specification says,
    and a home that cannot be found leaves ``~`` as it is): then nothing is cached."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "lakebox", f"help-{zlib.crc32(key.encode()):08x}.txt")


def read_cached(key: str) -> str | None:
    """The cached help for exactly ``key``, or None (none yet, another key, or unreadable)."""
    path = cache_file(key)
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            stored, sep, text = fh.read().partition("\n\x00\n")
    except (OSError, UnicodeDecodeError):
        return None
    return text if sep and stored == key else None


def write_cached(key: str, text: str) -> None:
    """Keep ``text`` for ``key``; a folder that cannot be written is left alone (the next --help renders)."""
    path = cache_file(key)
    if path is None:
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(f"{key}\n\x00\n{text}")
        os.replace(tmp, path)
    except OSError:
        # Not worth failing --help over: the help was printed, and the next one only renders it again. The
        # temporary file exists only if its folder was writable, so it can be removed.
        if os.path.lexists(tmp):
            os.unlink(tmp)
