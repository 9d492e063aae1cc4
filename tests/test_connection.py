"""storage/connection.py: the database handle docwatch's storage functions take, in place of
sqlite-utils' Database (whose import was a quarter of every command's start-up): the same rows,
the same all-or-nothing blocks, the same triggers."""

from __future__ import annotations

import sqlite3

import pytest

from storage import open_database
from storage.connection import Database, unique_names


@pytest.fixture
def db(tmp_path) -> Database:
    db = Database(sqlite3.connect(tmp_path / "t.db", isolation_level=None))
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    return db


def names(db: Database) -> list[str]:
    return [row["name"] for row in db.query("SELECT name FROM t ORDER BY id")]


def test_rows_come_as_dicts_and_a_repeated_column_name_is_kept_as_sqlite_utils_kept_it(db):
    db.execute("INSERT INTO t (name) VALUES (?)", ["转移就业"])
    assert list(db.query("SELECT id, name, name, id AS name_2 FROM t")) == [
        {"id": 1, "name": "转移就业", "name_3": "转移就业", "name_2": 1}]
    assert unique_names(["a", "a", "a_2", "b"]) == ["a", "a_3", "a_2", "b"]
    with pytest.raises(ValueError):
        db.query("UPDATE t SET name = 'x'")


def test_a_block_inside_a_transaction_is_undone_alone(db):
    with db.atomic():
        db.execute("INSERT INTO t (name) VALUES ('kept')")
        with pytest.raises(RuntimeError):
            with db.atomic():
                db.execute("INSERT INTO t (name) VALUES ('undone')")
                raise RuntimeError
        db.execute("INSERT INTO t (name) VALUES ('kept too')")
    assert names(db) == ["kept", "kept too"] and not db.conn.in_transaction
    with pytest.raises(RuntimeError):
        with db.atomic():
            db.execute("INSERT INTO t (name) VALUES ('all undone')")
            raise RuntimeError
    assert names(db) == ["kept", "kept too"] and not db.conn.in_transaction


def test_triggers_fire_recursively_as_they_did(db):
    assert db.execute("PRAGMA recursive_triggers").fetchone() == (1,)


def test_the_rest_of_sqlite_utils_api_is_there_for_whoever_needs_it(tmp_path):
    db = open_database(tmp_path / "docwatch.db")
    db["sources"].insert({"id": "rst", "url": "https://rst.xinjiang.gov.cn/", "type": "page", "added_at": "x",
                          "updated_at": "x"})
    assert db.execute("SELECT id FROM sources").fetchall() == [("rst",)] and "sources" in db.table_names()
