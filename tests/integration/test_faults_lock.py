"""The SQLite single-instance lock holds whatever path names the file (issue 13, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.daemon.leader import AlreadyRunningError, Instance, SqliteLeadership
from bot.store.db import open_database


@pytest.fixture
def real_db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "covbot.db"
    path.parent.mkdir()
    open_database(f"sqlite:///{path}").dispose()
    return path


def _leadership(path: Path, pid: int) -> SqliteLeadership:
    return SqliteLeadership(open_database(f"sqlite:///{path}"), Instance(pid=pid))


@pytest.mark.parametrize("how", ["symlink", "symlinked folder", "hard link", "relative path"])
def test_a_second_instance_through_another_name_is_refused(real_db: Path, tmp_path: Path, monkeypatch, how):
    if how == "symlink":
        other = tmp_path / "alias.db"
        other.symlink_to(real_db)
    elif how == "symlinked folder":
        (tmp_path / "elsewhere").symlink_to(real_db.parent, target_is_directory=True)
        other = tmp_path / "elsewhere" / real_db.name
    elif how == "hard link":
        other = tmp_path / "hard.db"
        os.link(real_db, other)
    else:
        monkeypatch.chdir(real_db.parent)
        other = Path(real_db.name)
    first = _leadership(real_db, 101)
    first.acquire_at_start()
    try:
        second = _leadership(other, 202)
        with pytest.raises(AlreadyRunningError) as refused:
            second.acquire_at_start()
        assert "pid 101" in str(refused.value)
        if how != "hard link":  # a hard link is another name of the same file, shown as given
            assert str(real_db) in str(refused.value)
        assert not second.is_leader
    finally:
        first.release()
        first.engine.dispose()
    if how != "hard link":  # (SQLite itself does not support WAL through two names of one file)
        again = _leadership(other, 303)  # released: the other name may start now
        again.acquire_at_start()
        again.release()


def test_two_different_files_do_not_share_a_lock(tmp_path: Path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    la, lb = _leadership(a, 1), _leadership(b, 2)
    la.acquire_at_start()
    lb.acquire_at_start()
    la.release()
    lb.release()
