import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from twitterclone.infra import ids as ids_mod
from twitterclone.infra.ids import ClockWentBackwards, IdGenerator, id_time, min_id_at


def test_ids_are_unique_and_increasing_across_threads() -> None:
    gen = IdGenerator(worker_id=7)
    out: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        local = [gen.next_int() for _ in range(5000)]
        with lock:
            out.extend(local)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == len(out) == 20_000
    single = [gen.next_int() for _ in range(1000)]
    assert single == sorted(single)


def test_id_carries_worker_and_time() -> None:
    gen = IdGenerator(worker_id=513)
    before = datetime.now(UTC) - timedelta(milliseconds=2)
    value = gen.next_int()
    assert (value >> 12) & 0x3FF == 513
    assert before <= id_time(value) <= datetime.now(UTC) + timedelta(milliseconds=2)
    assert min_id_at(id_time(value)) <= value
    assert gen.next().isdigit()


def test_worker_id_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="worker id"):
        IdGenerator(worker_id=1024)


def test_refuses_to_go_backwards(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = IdGenerator(worker_id=1, max_backwards_wait_ms=5)
    now = [ids_mod.EPOCH_MS + 1_000_000]
    monkeypatch.setattr(ids_mod, "_now_ms", lambda: now[0])
    first = gen.next_int()
    now[0] -= 1000  # the wall clock jumps back a second
    with pytest.raises(ClockWentBackwards):
        gen.next_int()
    now[0] += 1001
    assert gen.next_int() > first


def test_sequence_overflow_waits_for_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = IdGenerator(worker_id=1)
    ticks = iter([ids_mod.EPOCH_MS + 5] * 4097 + [ids_mod.EPOCH_MS + 6] * 10)
    monkeypatch.setattr(ids_mod, "_now_ms", lambda: next(ticks))
    values = [gen.next_int() for _ in range(4097)]
    assert len(set(values)) == 4097
    assert id_time(values[-1]) > id_time(values[0])


def test_claimed_worker_ids_are_distinct_across_processes(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; from twitterclone.infra.ids import claim_worker_id;"
        "print(claim_worker_id(Path(sys.argv[1])), flush=True); time.sleep(2)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    try:
        ids = {int(p.stdout.readline()) for p in procs if p.stdout}
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert len(ids) == 4
