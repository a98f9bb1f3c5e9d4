"""swiftlet-check-rdb on a big file: on a terminal, a progress line redrawn in place and
erased before the report; through a pipe, the report alone (as redis-check-rdb's)."""
import os
import subprocess

from conftest import CHECK_RDB, SWIFTLET, Server


def test_progress_line_on_a_terminal_only():
    s = Server(SWIFTLET, ["--enable-debug-command", "yes"])
    try:
        r = s.client()
        r.execute_command("DEBUG", "POPULATE", 1_000_000, "key", 16)
        r.save()
        path = os.path.join(s.workdir, "dump.rdb")
    finally:
        s.stop()
    piped = subprocess.run([CHECK_RDB, path], capture_output=True, timeout=120)
    assert piped.returncode == 0
    assert b"% checked" not in piped.stdout and b"\r" not in piped.stdout
    assert b"[info] 1000000 keys read\n" in piped.stdout
    # `script` gives the program a pseudo-terminal and copies what it writes.
    tty = subprocess.run(["script", "-qec", f"{CHECK_RDB} {path}", "/dev/null"], capture_output=True, timeout=120)
    assert tty.returncode == 0
    out = tty.stdout.replace(b"\r\n", b"\n")
    assert b"% checked, " in out and b" keys read\x1b[K" in out
    assert b"\r\x1b[K" in out  # erased before the report
    assert b"[info] 1000000 keys read\n" in out and b"RDB looks OK!" in out
