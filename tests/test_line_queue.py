from mlobs.line_queue import LineQueue


def test_lines_past_either_bound_are_dropped_and_room_returns_once_lines_are_taken():
    queue = LineQueue(max_lines=3, max_bytes=10)
    assert queue.put([b"aaaa", b"bbbb", b"cc", b"d"]) == 1  # 10 bytes fit; the 11th does not
    assert queue.take(2) == [b"aaaa", b"bbbb"]
    assert queue.put_one(b"12345678")  # 2 + 8 bytes
    assert not queue.put_one(b"x")  # past the bytes
    assert queue.put_one(b"")
    assert not queue.put_one(b"")  # past the lines
    assert queue.take() == [b"cc", b"12345678", b""] and len(queue) == 0
