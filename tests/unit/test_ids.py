"""Row ids: random for people and organizations, time-ordered for tokens."""

import time
import uuid

from idp.ids import new_id, new_ordered_id


def test_ordered_ids_are_uuid7_and_sort_by_time():
    first = new_ordered_id()
    time.sleep(0.002)
    second = new_ordered_id()
    for value in (first, second):
        parsed = uuid.UUID(value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
    assert first < second
    millis = uuid.UUID(first).int >> 80
    assert abs(millis - time.time() * 1000) < 5000
    assert len({new_ordered_id() for _ in range(1000)}) == 1000


def test_people_and_organizations_get_random_ids():
    assert uuid.UUID(new_id()).version == 4
