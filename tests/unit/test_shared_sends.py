"""Quick takes queued while a send is under way share the next message (`SharedSends`)."""

from __future__ import annotations

import threading
import time

from gms_lab.models import TaskRecord
from gms_lab.tasks.sends import SharedSends

KEY = ("still", "project", "shot")


def _record(n: int) -> TaskRecord:
    return TaskRecord(task_id=f"t{n}", project_id="project", node_id="shot", pipeline="still")


def _queued(shared: SharedSends, key: object = KEY) -> int:
    with shared._lock:
        return len(shared._waiting.get(key, []))


def _wait_for(check: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.001)


class _Held:
    """A send that holds its first message until told to go on, and notes every message."""

    def __init__(self) -> None:
        self.messages: list[list[str]] = []
        self.go = threading.Event()
        self.fail_with: BaseException | None = None

    def __call__(self, batch: list[TaskRecord]) -> None:
        if not self.messages:
            self.messages.append([r.task_id for r in batch])
            assert self.go.wait(10)
        else:
            self.messages.append([r.task_id for r in batch])
        if self.fail_with is not None and len(self.messages) > 1:
            raise self.fail_with


def _submit(shared: SharedSends, send: _Held, n: int, most: int, errors: list[object]) -> None:
    try:
        shared.send(KEY, _record(n), most, send)
    except BaseException as exc:
        errors.append(exc)


def test_a_take_alone_is_sent_at_once_in_its_own_message() -> None:
    shared, sent = SharedSends(), []
    shared.send(KEY, _record(1), 8, lambda batch: sent.append([r.task_id for r in batch]))
    shared.send(KEY, _record(2), 8, lambda batch: sent.append([r.task_id for r in batch]))
    assert sent == [["t1"], ["t2"]]
    assert not shared._waiting  # nothing left behind


def test_takes_queued_during_a_send_go_together_in_the_next_at_most_most_a_message() -> None:
    shared, send, errors = SharedSends(), _Held(), []
    first = threading.Thread(target=_submit, args=(shared, send, 0, 3, errors))
    first.start()
    _wait_for(lambda: send.messages)  # the first send is under way
    others = [threading.Thread(target=_submit, args=(shared, send, n, 3, errors)) for n in (1, 2)]
    others += [threading.Thread(target=_submit, args=(shared, send, n, 3, errors)) for n in (3, 4)]
    for n, thread in enumerate(others):
        thread.start()
        _wait_for(lambda n=n: _queued(shared) == n + 1)  # in this order
    assert all(thread.is_alive() for thread in others)  # each waits for its message to be sent
    send.go.set()
    for thread in [first, *others]:
        thread.join(10)
        assert not thread.is_alive()
    assert errors == []
    assert send.messages == [["t0"], ["t1", "t2", "t3"], ["t4"]]
    assert not shared._waiting


def test_every_take_of_a_message_that_could_not_be_sent_hears_why() -> None:
    shared, send, errors = SharedSends(), _Held(), []
    send.fail_with = ConnectionError("the broker is away")
    first = threading.Thread(target=_submit, args=(shared, send, 0, 8, errors))
    first.start()
    _wait_for(lambda: send.messages)
    others = [threading.Thread(target=_submit, args=(shared, send, n, 8, errors)) for n in (1, 2)]
    for thread in others:
        thread.start()
    _wait_for(lambda: _queued(shared) == 2)
    send.go.set()
    for thread in [first, *others]:
        thread.join(10)
    assert send.messages == [["t0"], ["t1", "t2"]]
    assert len(errors) == 2 and all(isinstance(e, ConnectionError) for e in errors)
    assert not shared._waiting
    # and the next take is sent as usual
    shared.send(KEY, _record(9), 8, lambda batch: None)


def test_takes_of_other_shots_are_not_held_by_a_send_under_way() -> None:
    shared, send, errors = SharedSends(), _Held(), []
    first = threading.Thread(target=_submit, args=(shared, send, 0, 8, errors))
    first.start()
    _wait_for(lambda: send.messages)
    elsewhere: list[list[str]] = []
    shared.send(
        ("still", "project", "another shot"),
        _record(5),
        8,
        lambda b: elsewhere.append([r.task_id for r in b]),
    )
    assert elsewhere == [["t5"]] and first.is_alive()
    send.go.set()
    first.join(10)
    assert errors == []


def test_many_clients_at_once_each_take_sent_once() -> None:
    threads = 16
    shared, lock, sent = SharedSends(), threading.Lock(), []

    def send(batch: list[TaskRecord]) -> None:
        time.sleep(0.0005)  # a round trip
        with lock:
            sent.append([r.task_id for r in batch])

    def client(c: int) -> None:
        for i in range(50):
            shared.send(KEY, _record(c * 1000 + i), 4, send)

    clients = [threading.Thread(target=client, args=(c,)) for c in range(threads)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(30)
    ids = [task for message in sent for task in message]
    assert sorted(ids) == sorted(f"t{c * 1000 + i}" for c in range(threads) for i in range(50))
    assert all(1 <= len(message) <= 4 for message in sent)
    assert len(sent) < len(ids)  # some were shared
    assert not shared._waiting
