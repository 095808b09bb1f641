"""The profiles' timing loop (tools/bench/common.py time_rounds, fetched, time_calls) on a fake clock: warmup
calls, rotated order, mean per round, median over rounds, results read on the host."""

import numpy as np
import pytest

from tools.bench.common import fetched, time_calls, time_rounds


class FakeClock:
    """A clock that moves only when a timed function says how long it took."""

    def __init__(self):
        self.now = 0.0
        self.calls = []

    def __call__(self):
        return self.now

    def function(self, name, costs):
        """A function whose n-th call takes costs[n] seconds (the last cost repeats)."""
        def fn():
            n = sum(1 for c in self.calls if c == name)
            self.calls.append(name)
            self.now += costs[min(n, len(costs) - 1)]
        return fn


def test_rotated_rounds_give_the_median_of_per_round_means():
    clock = FakeClock()
    # a: warmup 100 s, then rounds of two calls (1+3, 2+2, 9+9): means 2, 2, 9 -> median 2
    fns = {"a": clock.function("a", [100, 1, 3, 2, 2, 9, 9]), "b": clock.function("b", [50, 5]),
           "c": clock.function("c", [70, 0.5, 0.5, 0.5, 0.5, 7, 7])}
    seconds = time_rounds(fns, rounds=3, repeats=2, clock=clock, warmup=1)
    assert list(seconds) == ["a", "b", "c"]
    assert seconds == {"a": 2.0, "b": 5.0, "c": 0.5}
    timed = clock.calls[3:]
    assert timed == ["a", "a", "b", "b", "c", "c", "b", "b", "c", "c", "a", "a", "c", "c", "a", "a", "b", "b"]


def test_no_warmup_and_bad_counts():
    clock = FakeClock()
    assert time_rounds({"x": clock.function("x", [4])}, rounds=1, repeats=1, clock=clock, warmup=0) == {"x": 4}
    assert clock.calls == ["x"]
    with pytest.raises(ValueError, match="rounds and repeats must be at least 1"):
        time_rounds({"x": clock.function("x", [1])}, rounds=0, repeats=1)
    with pytest.raises(ValueError, match="repeats=0"):
        time_rounds({"x": clock.function("x", [1])}, rounds=1, repeats=0)


def test_time_calls_is_the_median_of_single_calls():
    assert time_calls(lambda: None, repeats=3, warmup=0) >= 0.0


def test_fetched_reads_tensors_and_returns_the_result():
    read = []

    class Tensor:
        def numpy(self):
            read.append(self)
            return np.zeros(1)

    a, b = Tensor(), Tensor()
    assert fetched(lambda: a)() is a
    out = fetched(lambda: (a, b, 3.0))()
    assert out[2] == 3.0 and read == [a, a, b]
    assert fetched(lambda: 1.5)() == 1.5
