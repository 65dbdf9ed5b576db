"""The shared feedback store, as two replicas see it: two stores on one SQLite file or one PostgreSQL
database, a store that cannot reach its database, and the bounds on what it keeps."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time

import pytest

from support.blackhole import Blackhole
from support.postgres import pg_schema_url
from support.races import at_once
from mlobs import feedback_store
from mlobs.feedback_store import ACCEPTED, DUPLICATE, FORBIDDEN, TABLE, UNKNOWN, SqlPredictionStore, StoreUnavailable

CLASSES = ("negative", "neutral", "positive")


def rid(i: int) -> str:
    return f"{i:032x}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.db'}"
    return pg_schema_url(request.getfixturevalue("pg_server"))


@pytest.fixture
def replicas(url):
    """Two stores on one database, as two replicas of a service would hold them; closed at the end."""
    made = []

    def make(**overrides):
        options = dict(max_rows=1_000_000, max_age_days=90, queue_size=1000, batch=100, timeout_s=2.0)
        store = SqlPredictionStore(url, "sentiment", overrides.pop("version", "v1"),
                                   overrides.pop("classes", CLASSES), **{**options, **overrides})
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_a_prediction_made_on_one_replica_is_claimed_once_through_another(replicas):
    one, other = replicas(), replicas()
    one.remember(rid(1), ["positive", "negative"], "alice")
    one.flush()
    first = other.claim(rid(1), 1, "alice")
    assert (first.status, first.predicted, first.version) == (ACCEPTED, "negative", "v1")
    assert one.claim(rid(1), 1, "alice").status == DUPLICATE
    assert other.claim(rid(1), 0, "bob").status == FORBIDDEN
    assert other.claim(rid(1), 0, "carol", labeller=True).status == ACCEPTED
    assert one.claim(rid(1), 2, "alice").status == UNKNOWN
    assert one.claim(rid(2), 0, "alice").status == UNKNOWN


def test_concurrent_claims_from_two_replicas_accept_exactly_one(replicas):
    one, other = replicas(), replicas()
    for i in range(20):
        one.remember(rid(i), ["neutral"], "alice")
    one.flush()
    for i in range(20):
        assert sorted(race(rid(i), (one, other, one, other))) == [ACCEPTED] + [DUPLICATE] * 3


def race(request_id: str, stores) -> list[str]:
    """One claim of `request_id` from each store at once, each on a thread of its own."""
    return at_once(lambda store: store.claim(request_id, 0, "alice").status, stores)


def test_a_prediction_of_an_earlier_model_version_is_scored_with_that_versions_classes(replicas):
    before = replicas(version="v1", classes=("cat", "dog"))
    before.remember(rid(1), ["dog"], "alice")
    before.flush()
    after = replicas(version="v2", classes=("bird", "cat", "dog"))
    claim = after.claim(rid(1), 0, "alice")
    assert (claim.predicted, claim.version) == ("dog", "v1")


def test_the_store_keeps_at_most_max_rows_and_deletes_the_oldest_first(replicas):
    store = replicas(max_rows=50)
    for i in range(120):
        store.remember(rid(i), ["neutral"], "alice")
    store.flush()
    store.prune()
    assert len(store) == 50
    assert store.claim(rid(69), 0, "alice").status == UNKNOWN
    assert store.claim(rid(70), 0, "alice").status == ACCEPTED


def test_predictions_older_than_max_age_are_deleted_a_chunk_at_a_time(replicas, monkeypatch):
    monkeypatch.setattr(feedback_store, "PRUNE_CHUNK", 3)
    now = [1_000_000.0]
    store = replicas(max_age_days=1, clock=lambda: now[0])
    for i in range(10):
        store.remember(rid(i), ["neutral"], "alice")
    now[0] += 3600
    store.remember(rid(10), ["neutral"], "alice")
    store.flush()
    now[0] += 86_400 - 1800
    store.prune()
    assert len(store) == 1
    assert store.claim(rid(9), 0, "alice").status == UNKNOWN
    assert store.claim(rid(10), 0, "alice").status == ACCEPTED


def test_the_store_holds_no_input_only_ids_versions_classes_and_times(tmp_path):
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = SqlPredictionStore(url, "sentiment", "v1", CLASSES, max_rows=10, max_age_days=1, queue_size=10,
                               batch=10, timeout_s=2.0)
    store.remember(rid(1), ["positive"], "alice")
    store.flush()
    store.close()
    with sqlite3.connect(tmp_path / "feedback.db") as conn:
        columns = [c[1] for c in conn.execute(f"PRAGMA table_info({TABLE})")]
        row = conn.execute(f"SELECT * FROM {TABLE}").fetchone()
    assert columns == ["seq", "model", "request_id", "idx", "client", "model_version", "predicted", "created_at",
                       "answered_at"]
    assert row[1:7] == ("sentiment", rid(1), 0, "alice", "v1", 2)


@pytest.fixture(scope="module")
def hung_store():
    """A store whose database accepts connections into its backlog and never answers; and what it dropped."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        dropped: list[int] = []
        store = SqlPredictionStore(f"postgresql://postgres@127.0.0.1:{listener.getsockname()[1]}/postgres",
                                   "sentiment", "v1", CLASSES, max_rows=10, max_age_days=1, queue_size=100,
                                   batch=10, timeout_s=1.0, on_dropped=dropped.append)
        yield store, dropped
        store.close()


def test_a_store_that_never_answers_costs_remember_nothing_and_counts_what_it_drops(hung_store):
    store, dropped = hung_store
    start = time.perf_counter()
    for i in range(1000):
        store.remember(rid(i), ["neutral", "positive"], "alice")
    assert time.perf_counter() - start < 0.5  # a thousand requests' worth, never waiting on the database
    assert sum(dropped) >= 2 * (1000 - 100 - 10)


def test_a_claim_on_a_store_that_never_answers_fails_within_the_timeout(hung_store):
    store, _ = hung_store
    start = time.monotonic()
    with pytest.raises(StoreUnavailable):
        asyncio.run(store.aclaim(rid(1), 0, "alice"))
    assert time.monotonic() - start < 1.5


def test_a_label_for_the_previous_versions_prediction_counts_toward_that_versions_accuracy(
        settings, sinks, sentiment_model, tmp_path):
    from fastapi.testclient import TestClient

    from mlobs.settings import FeedbackSettings
    from mlobs_services.sentiment.service import create_app

    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    previous = SqlPredictionStore(url, "sentiment", "previous", ("positive", "neutral", "negative"), max_rows=10,
                                  max_age_days=1, queue_size=10, batch=10, timeout_s=2.0)
    previous.remember(rid(1), ["positive"], "anonymous")
    previous.flush()
    previous.close()
    app = create_app(settings.model_copy(update={"feedback": FeedbackSettings(store_url=url)}),
                     configure_logging=False, **sinks.kwargs())
    with TestClient(app) as client:
        answer = client.post("/feedback", json={"request_id": rid(1), "label": "positive"})
    assert answer.json() == {"outcome": "correct"}
    labels = {"service": "sentiment", "model": "sentiment", "outcome": "correct"}
    assert sinks.sample("mlobs_feedback_total", {**labels, "model_version": "previous"}) == 1
    assert sinks.sample("mlobs_feedback_total", {**labels, "model_version": sentiment_model.version}) == 0


def test_a_store_that_refuses_connections_fails_claims_at_once_and_drops_what_it_was_given():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        dropped: list[int] = []
        store = SqlPredictionStore(f"postgresql://postgres@127.0.0.1:{port}/postgres", "sentiment", "v1", CLASSES,
                                   max_rows=10, max_age_days=1, queue_size=10, batch=10, timeout_s=2.0,
                                   on_dropped=dropped.append)
        try:
            store.remember(rid(1), ["neutral"], "alice")
            store.flush()
            assert dropped == [1]
            with pytest.raises(StoreUnavailable):
                asyncio.run(store.aclaim(rid(1), 0, "alice"))
        finally:
            store.close()


def test_predictions_still_queued_when_a_replica_stops_are_written_before_it_ends(replicas, url):
    stopping, other = replicas(), replicas()
    for i in range(200):
        stopping.remember(rid(i), ["positive"], "alice")
    stopping.close()
    assert other.claim(rid(199), 0, "alice").status == ACCEPTED
    assert len(other) == 200


@pytest.mark.parametrize("url", ["mysql://db/mlobs", "sqlite://", "/var/lib/mlobs/feedback.db"])
def test_a_store_url_of_no_known_database_is_refused_at_start(url):
    with pytest.raises(ValueError, match="feedback store"):
        SqlPredictionStore(url, "sentiment", "v1", CLASSES, max_rows=10, max_age_days=1, queue_size=10, batch=10,
                           timeout_s=1.0)


@pytest.mark.integration
def test_a_claim_waiting_on_a_row_another_transaction_holds_fails_in_time_and_is_not_made_behind_its_back(
        pg_server):
    """A lock wait is a server answering late: the server must end the UPDATE itself, or it would claim the
    prediction once the row is free, after its client was answered 503, and the retry would meet a 409."""
    import psycopg

    url = pg_schema_url(pg_server)
    store = SqlPredictionStore(url, "sentiment", "v1", CLASSES, max_rows=10, max_age_days=1, queue_size=10,
                               batch=10, timeout_s=0.5)
    try:
        store.remember(rid(1), ["neutral"], "alice")
        store.flush()
        with psycopg.connect(url) as holder, psycopg.connect(pg_server, autocommit=True) as watcher:
            holder.execute(f"SELECT 1 FROM {TABLE} WHERE request_id = %s FOR UPDATE", (rid(1),))
            with pytest.raises(StoreUnavailable):
                store.claim(rid(1), 0, "alice")
            end = time.monotonic() + 5
            while watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                  ).fetchone()[0] and time.monotonic() < end:
                time.sleep(0.05)
            holder.commit()  # the row is free again
        assert store.claim(rid(1), 0, "alice").status == ACCEPTED
    finally:
        store.close()


@pytest.mark.integration
def test_a_claim_on_a_server_gone_silent_mid_run_fails_in_time_and_the_next_one_after_it_is_back_is_made(
        pg_server):
    url = pg_schema_url(pg_server)
    with Blackhole.before(url) as proxy:
        store = SqlPredictionStore(proxy.via(url), "sentiment", "v1", CLASSES, max_rows=10, max_age_days=1,
                                   queue_size=10, batch=10, timeout_s=0.5)
        try:
            store.remember(rid(1), ["neutral"], "alice")
            store.flush()
            assert store.claim(rid(2), 0, "alice").status == UNKNOWN  # this thread's connection, open
            proxy.partition()
            with pytest.raises(StoreUnavailable):
                asyncio.run(store.aclaim(rid(1), 0, "alice"))
            with pytest.raises(StoreUnavailable):
                store.claim(rid(1), 0, "alice")
            proxy.heal()
            assert store.claim(rid(1), 0, "alice").status == ACCEPTED
        finally:
            store.close()
