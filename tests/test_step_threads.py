"""The fit loop's choice of threads per step (StepThreads): all allowed threads
or one, whichever its measured step times say is faster, with rare probes of
the other. Driven here by given step times, so the policy is checked exactly;
that the choice never changes results is checked by the thread-count tests of
test_determinism.py."""

import math

import pytest

from mlpcore import _core


def run(tuner, seconds_per_row, steps):
    """Steps on the threads the tuner picks, each taking seconds_per_row(threads, step)."""
    used = []
    for i in range(steps):
        t = tuner.next()
        used.append(t)
        tuner.record(t, seconds_per_row(t, i))
    return used


def test_all_threads_kept_when_faster_and_the_other_probed_rarely():
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: 1.0 if t == 2 else 1.9, 5000)
    one = used.count(1)
    assert used[0] == 2
    assert 0 < one <= 0.015 * len(used), one  # probes: about 1 % of the time at most


def test_one_thread_taken_when_all_threads_are_slowed_down():
    # Another process holds a core: two threads wait for each other at every barrier.
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: 10.0 if t == 2 else 1.0, 5000)
    first_one = used.index(1)
    assert first_one <= 3  # the first probe comes after 2 steps
    after = used[first_one:]
    # Probing the slow option costs 9 extra steps' time each: kept near 1 %.
    slow_probes = after.count(2)
    assert 1 <= slow_probes and slow_probes * 9 <= 0.02 * len(after), slow_probes


def test_back_to_all_threads_when_the_load_goes():
    tuner = _core.StepThreads(4)
    loaded = lambda t, i: 10.0 if t == 4 else 1.0  # noqa: E731
    before = run(tuner, loaded, 2000)
    # Under load the loop runs on one thread, probing four only now and then: it
    # starts on four, probes one (steps 3..5) and switches; a tenfold win is not
    # looked at again soon, so the next probe of four comes
    # 100 * 3 * (10 - 1) / 1 = 2700 steps after the switch: none in the rest of
    # these 2000 steps, nor at the next one.
    assert before[:3] == [4, 4, 4] and before[3:] == [1] * (len(before) - 3)
    assert tuner.next() == 1
    # The load is gone: four threads now take 0.3 of one thread's time.
    used = run(tuner, lambda t, i: 0.3 if t == 4 else 1.0, 5000)
    switched = used.index(4)
    # That probe of four threads wins (its two counted steps, 0.3 < 0.95 * 1.0)
    # and the loop stays there, for at least the 3 probe steps and the 16 a
    # narrow win would wait before looking at one thread again.
    assert len(before) + 1 + switched <= 6 + 2700 + 1
    assert used[switched:switched + 19] == [4] * 19
    assert used[switched:].count(1) <= 0.02 * len(used[switched:])


def test_one_thread_taken_when_all_threads_are_mostly_slowed_down():
    # Beside another process, all threads run at full speed for the odd step
    # (the other process descheduled for a while) and at a fraction of it for
    # most: judged by their fastest steps they would look better than one thread.
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: (0.5 if i % 4 == 0 else 3.0) if t == 2 else 1.0, 4000)
    assert used[100:].count(1) >= 0.97 * len(used[100:])


def test_a_close_call_keeps_the_current_choice():
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: 1.0 if t == 2 else 0.97, 2000)  # within the 5 % margin
    runs_of_one = "".join(map(str, used)).replace("2", " ").split()
    assert max(map(len, runs_of_one)) <= 3  # probes (of 3 steps) only, never a switch


def test_noise_does_not_flip_the_choice_for_good():
    # Alternating fast and slow steps on all threads average out below one thread.
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: (0.6 if i % 2 else 1.0) if t == 2 else 1.5, 4000)
    assert used.count(2) > 0.95 * len(used)


def test_the_first_step_is_not_counted():
    # It also starts the thread pool and first touches the workspace.
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: 1000.0 if i == 0 else (1.0 if t == 2 else 1.5), 1000)
    assert used.count(1) * 0.5 <= 0.012 * len(used)  # each probe costs half a step: about 1 %


def test_one_stalled_step_does_not_hand_the_loop_to_the_slower_option():
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: (100.0 if i == 50 else 1.0) if t == 2 else 1.9, 3000)
    assert used.count(1) <= 0.015 * len(used)


def test_a_slow_start_is_soon_checked_again():
    # The first steps on all threads are slowed by warm-up (page faults, cold
    # caches), so the early probe of one thread wins; a second look 16 steps
    # later hands the loop back to all threads.
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: (3.0 if i < 4 else 1.0) if t == 2 else 1.8, 3000)
    assert 1 in used[:4]
    assert used[40:].count(1) <= 0.015 * len(used[40:])


def test_single_thread_allowed_means_single_thread():
    tuner = _core.StepThreads(1)
    assert run(tuner, lambda t, i: 1.0, 100) == [1] * 100


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_unusable_times_are_ignored(bad):
    tuner = _core.StepThreads(2)
    used = run(tuner, lambda t, i: 1.0 if t == 2 else 2.0, 200)
    for _ in range(50):
        tuner.record(1, bad)  # would look infinitely fast or never finish
    assert run(tuner, lambda t, i: 1.0 if t == 2 else 2.0, 200).count(2) >= 190
    assert used.count(2) >= 180


def test_bad_max_threads():
    with pytest.raises(ValueError, match="max_threads"):
        _core.StepThreads(0)
