"""The secret key file: processes started together on a fresh instance folder share one key."""
from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from outreach.lib.secrets import load_or_create_secret_key

ROOT = Path(__file__).resolve().parents[2]
#: waits on its stdin (the starting gun), then reads or creates the key and prints it
_CHILD = """
import sys
from pathlib import Path
from outreach.lib.secrets import load_or_create_secret_key
print("ready", flush=True)
sys.stdin.read()
print(load_or_create_secret_key(Path(sys.argv[1])), flush=True)
"""


def _race(instance: Path, processes: int = 3) -> set[str]:
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, str(instance)], cwd=ROOT, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:  # every child is waiting: release them together
        assert child.stdin is not None
        child.stdin.close()
    keys = set()
    for child in children:
        assert child.stdout is not None
        keys.add(child.stdout.read().strip())
        child.stdout.close()
        assert child.wait(timeout=60) == 0
    return keys


def test_three_processes_starting_together_on_a_fresh_folder_get_one_key(tmp_path: Path) -> None:
    for attempt in range(20):
        instance = tmp_path / f"instance-{attempt}"
        keys = _race(instance)
        assert len(keys) == 1, f"attempt {attempt}: {len(keys)} different keys"
        assert keys == {(instance / "secret_key").read_text()}


def test_the_key_is_kept_private_and_read_back(tmp_path: Path) -> None:
    key = load_or_create_secret_key(tmp_path / "instance")
    assert len(key) >= 64
    assert stat.S_IMODE((tmp_path / "instance" / "secret_key").stat().st_mode) == 0o600
    assert load_or_create_secret_key(tmp_path / "instance") == key
    assert [p.name for p in (tmp_path / "instance").iterdir() if p.name.startswith(".secret_key")] == []
