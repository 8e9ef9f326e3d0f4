"""Unit tests of the booking calendars (sim/model/calendars.py) and the random streams (sim/model/rng.py)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.calendars import SLOT_TIME, SlotCalendar
from sim.model.rng import BLOCK, PURPOSES, PatientStreams, PurposeDraws, Stream, choose, uniform_rows

MON_FRI = [0, 1, 2, 3, 4]


def first_day(earliest: float) -> int:
    """The first day whose 09:00 slot is not before ``earliest`` (hand-written oracle)."""
    return math.ceil(earliest - SLOT_TIME)


# ----------------------------------------------------------------------------- SlotCalendar


def test_slot_time_is_nine_am():
    assert SLOT_TIME == pytest.approx(9 / 24)


@pytest.mark.parametrize(
    "earliest,expected",
    [
        (0.0, 0.375),  # Monday before 09:00 -> Monday
        (0.375, 0.375),  # exactly 09:00 -> that slot
        (0.376, 1.375),  # just after 09:00 -> Tuesday
        (0.5, 1.375),
        (4.2, 4.375),  # Friday morning
        (4.5, 7.375),  # Friday afternoon -> next Monday
        (5.0, 7.375),  # Saturday -> Monday
        (6.9, 7.375),  # Sunday -> Monday
        (14.375, 14.375),  # Monday of week 3
    ],
)
def test_book_hand_cases(earliest, expected):
    cal = SlotCalendar("linac", MON_FRI, 1)
    assert cal.book(earliest) == pytest.approx(expected)


def test_book_weekly_calendar():
    # an MDT on Wednesdays only
    cal = SlotCalendar("mdt", [2], 2)
    assert [cal.book(0.0) for _ in range(5)] == [2.375, 2.375, 9.375, 9.375, 16.375]


def test_book_respects_slots_per_day():
    cal = SlotCalendar("theatre", MON_FRI, 3)
    times = [cal.book(3.0) for _ in range(8)]
    # Thursday x3, Friday x3, then Monday
    assert times == [3.375] * 3 + [4.375] * 3 + [7.375] * 2


def test_release_frees_a_slot():
    cal = SlotCalendar("linac", MON_FRI, 1)
    assert cal.book(0.0) == 0.375
    assert cal.book(0.0) == 1.375
    cal.release(0.375)
    assert cal.book(0.0) == 0.375
    assert cal.book(0.0) == 2.375


def test_book_course_consecutive_open_days():
    cal = SlotCalendar("linac", MON_FRI, 1)
    # Thursday start: Thu, Fri, Mon, Tue, Wed
    assert cal.book_course(3.0, 5) == [3.375, 4.375, 7.375, 8.375, 9.375]


def test_book_course_skips_full_days():
    cal = SlotCalendar("linac", MON_FRI, 1)
    cal.book(4.0)  # Friday full
    cal.book(8.0)  # next Tuesday full
    assert cal.book_course(3.0, 5) == [3.375, 7.375, 9.375, 10.375, 11.375]
    # with two slots a day a second course fills the same days where there is room
    cal2 = SlotCalendar("linac", MON_FRI, 2)
    first = cal2.book_course(0.0, 5)
    second = cal2.book_course(0.0, 5)
    third = cal2.book_course(0.0, 3)
    assert first == second == [0.375, 1.375, 2.375, 3.375, 4.375]
    assert third == [7.375, 8.375, 9.375]


def test_book_course_release_then_rebook():
    cal = SlotCalendar("linac", MON_FRI, 1)
    course = cal.book_course(0.0, 5)
    assert course == [0.375, 1.375, 2.375, 3.375, 4.375]
    # the patient stops after 2 fractions: the 3 remaining slots are given back
    for t in course[2:]:
        cal.release(t)
    assert cal.book_course(0.0, 4) == [2.375, 3.375, 4.375, 7.375]


class _BoundedDays(list):
    """A calendar day list that refuses to grow past 20 000 days, so a runaway booking loop
    fails fast instead of hanging the test run."""

    def extend(self, items) -> None:
        super().extend(items)
        if len(self) > 20_000:
            raise RuntimeError("book_course ran past 20 000 days")


def test_book_course_zero_fractions():
    cal = SlotCalendar("linac", MON_FRI, 1)
    cal.used = _BoundedDays()
    assert cal.book_course(0.0, 0) == []
    assert cal.book(0.0) == 0.375


def test_book_far_in_the_future_extends_the_calendar():
    cal = SlotCalendar("linac", MON_FRI, 1)
    t = cal.book(5000.0)  # 5000 % 7 == 2: a Wednesday, beyond the initial 1024 days
    assert math.floor(t) % 7 in MON_FRI
    assert t == 5000.375


weekday_sets = st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True)


@settings(max_examples=150, deadline=None)
@given(
    weekdays=weekday_sets,
    capacity=st.integers(1, 4),
    earliest=st.floats(min_value=0.0, max_value=60.0),
    n=st.integers(1, 25),
)
def test_book_property(weekdays, capacity, earliest, n):
    cal = SlotCalendar("x", weekdays, capacity)
    times = [cal.book(earliest) for _ in range(n)]
    days = [math.floor(t) for t in times]
    for t, d in zip(times, days, strict=True):
        assert d % 7 in weekdays
        assert t >= earliest
        assert t - d == pytest.approx(SLOT_TIME)
    assert times == sorted(times)  # first come, first served
    assert max(Counter(days).values()) <= capacity
    # oracle: the first open days from the first eligible one, each filled to capacity
    expected, day = [], first_day(earliest)
    while len(expected) < n:
        if day % 7 in weekdays:
            expected.extend([day + SLOT_TIME] * capacity)
        day += 1
    assert times == expected[:n]


@settings(max_examples=150, deadline=None)
@given(
    weekdays=weekday_sets,
    capacity=st.integers(1, 3),
    earliest=st.floats(min_value=0.0, max_value=40.0),
    n=st.integers(1, 30),
    prebooked=st.lists(st.integers(0, 80), max_size=40),
)
def test_book_course_property(weekdays, capacity, earliest, n, prebooked):
    cal = SlotCalendar("x", weekdays, capacity)
    taken: Counter[int] = Counter()
    for d in prebooked:
        t = cal.book(float(d))
        taken[math.floor(t)] += 1
    times = cal.book_course(earliest, n)
    assert len(times) == n
    days = [math.floor(t) for t in times]
    assert all(b > a for a, b in zip(days, days[1:], strict=False))  # strictly increasing days
    assert all(d % 7 in weekdays for d in days)
    assert all(t >= earliest for t in times)
    # oracle: the first n open days from the first eligible one that still had room
    expected, day = [], first_day(earliest)
    while len(expected) < n:
        if day % 7 in weekdays and taken[day] < capacity:
            expected.append(day + SLOT_TIME)
        day += 1
    assert times == expected
    # nothing is overbooked
    for d in days:
        taken[d] += 1
    assert max(taken.values(), default=0) <= capacity


@settings(max_examples=100, deadline=None)
@given(
    weekdays=weekday_sets,
    capacity=st.integers(1, 3),
    earliest=st.floats(min_value=0.0, max_value=30.0),
)
def test_release_property(weekdays, capacity, earliest):
    """Filling a day, releasing one slot and booking again gives that day back."""
    cal = SlotCalendar("x", weekdays, capacity)
    first = [cal.book(earliest) for _ in range(capacity)]
    assert len(set(first)) == 1
    nxt = cal.book(earliest)
    assert nxt > first[0]
    cal.release(first[0])
    assert cal.book(earliest) == first[0]
    after = cal.book(earliest)
    if capacity > 1:
        assert after == nxt  # the next open day still has room
    else:
        assert after > nxt


# ----------------------------------------------------------------------------- uniform_rows


@pytest.mark.parametrize(
    "cuts",
    [
        [0, 300, 700],
        [0, 1, 255, 256, 257, 511, 512, 700],
        [0, 699, 700],
        [0, 256, 512, 700],
    ],
)
def test_uniform_rows_split_invariant(cuts):
    whole = uniform_rows(42, "disease", 0, 700)
    assert whole.shape == (700, PURPOSES["disease"][1])
    parts = [uniform_rows(42, "disease", a, b) for a, b in zip(cuts, cuts[1:], strict=False)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_uniform_rows_single_rows_match():
    whole = uniform_rows(7, "toxicity", 0, 3 * BLOCK + 5)
    for i in (0, BLOCK - 1, BLOCK, 2 * BLOCK + 17, 3 * BLOCK + 4):
        np.testing.assert_array_equal(uniform_rows(7, "toxicity", i, i + 1)[0], whole[i])


def test_uniform_rows_offset_start():
    whole = uniform_rows(3, "response", 0, 1000)
    np.testing.assert_array_equal(uniform_rows(3, "response", 400, 900), whole[400:900])


@pytest.mark.parametrize("purpose", ["population", "disease", "toxicity", "decisions"])
def test_uniform_rows_shape_and_range(purpose):
    rows = uniform_rows(11, purpose, 100, 400)
    assert rows.shape == (300, PURPOSES[purpose][1])
    assert rows.min() >= 0.0 and rows.max() < 1.0
    # roughly uniform: the mean of 300 * width uniforms is close to 1/2
    assert abs(rows.mean() - 0.5) < 0.05


def test_uniform_rows_differ_between_purposes_and_seeds():
    a = uniform_rows(1, "population", 0, 50)
    b = uniform_rows(1, "assignment", 0, 50)  # a different purpose
    c = uniform_rows(2, "population", 0, 50)
    assert a.shape == c.shape
    width = min(a.shape[1], b.shape[1])
    assert not np.any(a[:, :width] == b[:, :width])
    assert not np.any(a == c)
    # and rows differ between patients
    assert not np.any(a[0] == a[1])


def test_purpose_ids_are_unique():
    ids = [pid for pid, _ in PURPOSES.values()]
    assert len(ids) == len(set(ids))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    start=st.integers(0, 3 * BLOCK),
    sizes=st.lists(st.integers(1, 2 * BLOCK), min_size=1, max_size=4),
)
def test_uniform_rows_split_property(seed, start, sizes):
    bounds = [start]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    whole = uniform_rows(seed, "durations", bounds[0], bounds[-1])
    parts = [uniform_rows(seed, "durations", a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


# ----------------------------------------------------------------------------- Stream


def make_stream(seed: int = 5, purpose: str = "disease", patient: int = 300) -> Stream:
    row = uniform_rows(seed, purpose, patient, patient + 1)[0].tolist()
    return Stream(row, seed, PURPOSES[purpose][0], patient)


def test_stream_reads_its_row_first():
    row = uniform_rows(5, "disease", 300, 301)[0].tolist()
    s = make_stream()
    assert [s.random() for _ in range(len(row))] == row


def test_stream_take_then_random_in_order():
    row = uniform_rows(5, "decisions", 10, 11)[0].tolist()
    s = make_stream(purpose="decisions", patient=10)
    assert s.take(3) == row[:3]
    assert s.random() == row[3]
    assert s.take(4) == row[4:8]


def test_stream_identical_past_the_row_end():
    a, b = make_stream(), make_stream()
    seq_a = [a.random() for _ in range(1000)]
    seq_b = [b.random() for _ in range(1000)]
    assert seq_a == seq_b
    assert all(0.0 <= u < 1.0 for u in seq_a)
    assert len(set(seq_a)) == 1000  # no repetition of the row in the extension
    # another patient's extension differs
    c = make_stream(patient=301)
    seq_c = [c.random() for _ in range(1000)]
    assert not set(seq_a[8:]) & set(seq_c[8:])


def test_stream_take_crossing_the_end():
    a, b = make_stream(), make_stream()
    flat = [a.random() for _ in range(200)]
    assert b.take(5) == flat[:5]
    assert b.take(100) == flat[5:105]  # crosses the 8-wide row and several extensions
    assert b.random() == flat[105]


def test_stream_empty_row_extends():
    a = Stream([], 9, PURPOSES["arrivals"][0], 0)
    b = Stream([], 9, PURPOSES["arrivals"][0], 0)
    assert a.take(50) == [b.random() for _ in range(50)]


@settings(max_examples=100, deadline=None)
@given(ahead=st.lists(st.tuples(st.integers(0, 90), st.integers(0, 90)), min_size=1, max_size=12),
       patient=st.integers(0, 2000))
def test_stream_peek_far_ahead_then_skip_shifts_nothing(ahead, patient):
    """peek(n) reads without consuming, even past the row's end; skip(k) then consumes k: the
    same sequence as k calls of random()."""
    ref = make_stream(seed=13, purpose="toxicity", patient=patient)
    s = make_stream(seed=13, purpose="toxicity", patient=patient)
    for n, k in ahead:
        k = min(n, k)
        seen = s.peek(n)
        assert seen[:k] == [ref.random() for _ in range(k)]
        s.skip(k)
    assert s.take(20) == [ref.random() for _ in range(20)]


@settings(max_examples=100, deadline=None)
@given(chunks=st.lists(st.integers(0, 70), min_size=1, max_size=30), patient=st.integers(0, 2000))
def test_stream_any_consumption_pattern_gives_the_same_sequence(chunks, patient):
    """take(n) is n calls of random(): how the draws are grouped never shifts them."""
    total = sum(chunks)
    ref = make_stream(seed=13, purpose="response", patient=patient)
    flat = [ref.random() for _ in range(total)]
    s = make_stream(seed=13, purpose="response", patient=patient)
    got: list[float] = []
    for i, n in enumerate(chunks):
        if i % 2 and n:
            got.extend(s.random() for _ in range(n))
        else:
            got.extend(s.take(n))
    assert got == flat


def test_purpose_draws_rows_are_the_patients_rows():
    """A centre of patients 300..339 (not aligned to a block): position j is patient 300 + j."""
    draws = PurposeDraws(5, "surgery", 300, 340)
    whole = uniform_rows(5, "surgery", 300, 340)
    assert whole.shape == (40, PURPOSES["surgery"][1])
    for j in (0, 1, 17, 39):
        assert draws.row(j).tolist() == whole[j].tolist()


def test_patient_streams_are_the_patients_own():
    """A centre's streams of a patient read the same uniforms, row and overflow alike, as
    streams made from that patient's own row; a lazy purpose starts on the overflow."""
    streams = PatientStreams(5, 290, 310, ("disease", "toxicity"), lazy=("immunotherapy",)).of(10, 300)
    assert list(streams) == ["disease", "toxicity", "immunotherapy"]
    for purpose in ("disease", "toxicity"):
        own = make_stream(seed=5, purpose=purpose, patient=300)
        assert streams[purpose].take(3) == own.take(3)
        assert [streams[purpose].random() for _ in range(200)] == [own.random() for _ in range(200)]
    lazy = Stream([], 5, PURPOSES["immunotherapy"][0], 300)
    assert streams["immunotherapy"].take(40) == lazy.take(40)


def test_stream_uniform_and_exponential():
    row = [0.25, 0.5, 0.75, 0.0]
    s = Stream(list(row), 1, 3, 0)
    assert s.uniform(2.0, 6.0) == pytest.approx(3.0)
    assert s.exponential() == pytest.approx(math.log(2.0))
    assert s.exponential() == pytest.approx(math.log(4.0))
    assert s.exponential() == 0.0


# ----------------------------------------------------------------------------- choose


@pytest.mark.parametrize(
    "u,expected",
    [(0.0, 0), (0.1999, 0), (0.2, 1), (0.4999, 1), (0.5, 2), (0.999, 2)],
)
def test_choose_hand_cases(u, expected):
    assert choose((0.2, 0.5, 1.0), u) == expected


def test_choose_falls_back_to_last_category():
    # cumulative probabilities that stop short of 1 (rounding) give the last category
    assert choose((0.3, 0.9), 0.95) == 1
    assert choose((0.3, 0.9), 1.0) == 1
    assert choose((1.0,), 0.7) == 0


def test_choose_skips_zero_probability_categories():
    assert choose((0.0, 0.0, 0.4, 0.4, 1.0), 0.0) == 2
    assert choose((0.0, 0.0, 0.4, 0.4, 1.0), 0.4) == 4


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=1, max_size=8).filter(
        lambda w: sum(w) > 0
    ),
    u=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_choose_matches_searchsorted(weights, u):
    cum = tuple(np.cumsum(weights) / sum(weights))
    i = choose(cum, u)
    assert i == min(int(np.searchsorted(cum, u, side="right")), len(cum) - 1)
    assert weights[i] > 0 or i == len(cum) - 1
