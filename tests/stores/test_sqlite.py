"""The store suite against SQLite, and what only a SQLite store does."""

from __future__ import annotations

import pytest

from engine.stores import Store, StoreError

from tests.stores.store_suite import StoreSuite
from tests.stores.support import sqlite_store_url


class TestSQLiteStore(StoreSuite):
    @pytest.fixture
    def new_store(self):
        return sqlite_store_url


def test_a_plain_path_is_a_sqlite_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Store.open("books.db").close()
    with Store.open("sqlite:///books.db", create=False) as store:
        assert store.status()["lines"] == 0
    with Store.open(f"sqlite:///{tmp_path}/books.db", create=False) as store:
        assert store.path == f"{tmp_path}/books.db"


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "notes.db").write_text("not a database at all, just words")
    with pytest.raises(StoreError, match="notes.db: file is not a database"):
        Store.open(str(tmp_path / "notes.db"))
    with pytest.raises(StoreError, match=r"no store at .*missing.db: the file does not exist"):
        Store.open(str(tmp_path / "missing.db"), create=False)


def test_unknown_urls_are_refused():
    with pytest.raises(StoreError, match=r"unknown store URL 'mysql://x/y': expected sqlite:///FILE"):
        Store.open("mysql://x/y")
    with pytest.raises(StoreError, match="expected a SQLite URL like sqlite:///books.db"):
        Store.open("sqlite://")


def test_a_batch_holds_at_least_one_line(tmp_path):
    with Store.open(str(tmp_path / "books.db")) as store, pytest.raises(ValueError, match="batch_lines must be at least 1"):
        store.ingest([], batch_lines=0)
