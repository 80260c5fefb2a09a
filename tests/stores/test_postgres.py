"""The store suite against PostgreSQL (never skipped: CI starts the server), and what only a
PostgreSQL store does."""

from __future__ import annotations

import builtins

import pytest

from engine.stores import Store, StoreError

from tests.stores.store_suite import StoreSuite
from tests.stores.support import POSTGRES_URL, in_schema, postgres_admin, postgres_store_url


class TestPostgresStore(StoreSuite):
    @pytest.fixture
    def new_store(self):
        return postgres_store_url


def test_two_schemas_are_two_stores_with_writer_locks_of_their_own():
    with postgres_store_url() as first_url, postgres_store_url() as second_url:
        with Store.open(first_url) as first, Store.open(second_url) as second:
            assert first._lock_key != second._lock_key
            with first._writer(0):
                with second._writer(0):  # not blocked by the first store's writer
                    pass


def test_a_schema_that_does_not_exist_is_named():
    with pytest.raises(StoreError, match="no schema of the search_path exists in database"):
        Store.open(in_schema(POSTGRES_URL, "no_such_schema_here"))


def test_an_unreachable_server_is_named_without_its_password():
    with pytest.raises(StoreError, match=r"cannot connect to postgresql://someone:\*\*\*@127.0.0.1:9/x"):
        Store.open("postgresql://someone:secret@127.0.0.1:9/x?connect_timeout=2")


def test_without_psycopg_the_message_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def without_psycopg(name, *args, **kwargs):
        if name == "psycopg":
            raise ImportError("No module named 'psycopg'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_psycopg)
    with pytest.raises(StoreError, match=r"pip install 'backstop\[postgres\]'"):
        Store.open(POSTGRES_URL)


def test_the_test_database_is_reachable():
    """CI must run the PostgreSQL tests: this fails, never skips, when the server is not there."""
    with postgres_admin() as admin:
        assert admin.execute("SELECT 1").fetchone() == (1,)
