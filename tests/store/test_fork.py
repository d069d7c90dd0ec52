"""SQLite across a fork: a worker child forked from a process that holds the store keeps every commit."""

from __future__ import annotations

import multiprocessing

from store.sqlite import SQLiteStore
from tests.store.factory import make_doc


def _publish_two(store: SQLiteStore, published, go) -> None:
    store.publish(make_doc("first", "harbour news"), "u1")
    published.set()
    go.wait(30)
    store.publish(make_doc("second", "harbour news"), "u2")


def test_a_child_forked_from_a_process_holding_the_store_keeps_its_commits_once_that_process_lets_go(tmp_path):
    url = f"sqlite:///{tmp_path}/store.db"
    store = SQLiteStore(url)
    store.publish(make_doc("before", "harbour news"), "u0")  # the parent holds a connection, as `wiredesk run` does
    ctx = multiprocessing.get_context("fork")
    published, go = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_publish_two, args=(store, published, go))
    child.start()
    assert published.wait(30)
    store.close()  # the parent lets go of the store (or dies)
    other = SQLiteStore(url)  # and another process opens it and closes it: it must not take itself for the last
    assert other.get_document("first") is not None
    other.close()
    go.set()
    child.join(30)
    assert child.exitcode == 0
    assert SQLiteStore(url).get_document("second") is not None  # lost with the WAL before
