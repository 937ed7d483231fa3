#!/usr/bin/env python3
"""Replay a `tollgate bench` trace through models of a client's admission.

Where does a client counting sliding windows lose quota on the contracts scenario? This
script takes the calls of one bench run (their arrival, priority, input and output tokens,
max_tokens and latency, from TOLLGATE_BENCH_TRACE=1) and replays them, in emulated time
steps, through:

  - a sliding window of 200,000 tokens per minute, as quota.Sliding counts it: a call is
    admitted when the last window's usage plus its reservation (input x estimate factor +
    max_tokens) fits; a refund goes back where the charge was made, an excess lands when
    the call ends. Packing: "none" (strict order), "head" (a call behind the first
    waiting one is admitted if it fits and the first one's admission time does not move:
    what the Limiter does), "any" (any call that fits).
  - a token bucket and aligned clock minutes counted together ("either"), with "any".

Time advances in steps of 0.3 s, the width of quota's sub-windows of a minute. It
prints each variant's makespan and efficiency by the bench's bound (bucket reading):
(settled usage - 200,000) / 200,000 per minute / makespan. Usage:

  TOLLGATE_BENCH_TRACE=1 go run ./cmd/tollgate bench --scenario contracts --window bucket \\
      --strategy tollgate 2> docs/results/contracts-trace.txt
  python3 docs/results/window-replay.py docs/results/contracts-trace.txt
"""
import re
import sys

A = 200_000.0  # tokens per minute
LINE = re.compile(r"call\s+(\d+) (\w+)\s+arrived\s+([\d.]+)s sent\s+([\d.]+)s ended\s+([\d.]+)s "
                  r"in\s+(\d+) out\s+(\d+) max_tokens\s+(\d+)")
PRIO = {"high": 0, "normal": 1, "low": 2}


def load(path):
    calls = []
    for line in open(path):
        m = LINE.search(line)
        if m:
            _, prio, arr, sent, end, inp, out, mt = m.groups()
            calls.append(dict(arr=float(arr), prio=PRIO[prio], inp=int(inp), out=int(out), mt=int(mt),
                              lat=float(end) - float(sent)))
    calls.sort(key=lambda c: c["arr"])
    return calls


def bound(calls):
    settled = sum(c["inp"] + 5 * c["out"] for c in calls)
    return (settled - A) / A * 60


def sliding(calls, packing, per=60.0, factor=1.06, latency=True, step=0.3):
    entries = []  # [time charged, amount]
    inflight = []  # (end, reserved, settled, entry index)
    queue, i, done, last, t = [], 0, 0, 0.0, 0.0

    def used(at):
        return sum(a for (tt, a) in entries if tt > at - per)

    def head_time(head, extra):
        tt = t
        while tt < t + per + 1 and used(tt) + extra + head["R"] > A:
            tt += step
        return tt

    def admit(c):
        entries.append([t, c["R"]])
        inflight.append((t + (c["lat"] if latency else 0), c["R"], c["s"], len(entries) - 1))

    for c in calls:
        c["R"], c["s"] = c["inp"] * factor + c["mt"], c["inp"] + 5 * c["out"]
    while done < len(calls):
        for f in [x for x in inflight if x[0] <= t]:
            inflight.remove(f)
            end, r, s, k = f
            if s < r:
                entries[k][1] -= r - s
            else:
                entries.append([end, s - r])
            done += 1
            last = max(last, end)
        while i < len(calls) and calls[i]["arr"] <= t:
            queue.append(calls[i])
            i += 1
        queue.sort(key=lambda c: (c["prio"], c["arr"]))
        progress = True
        while queue and progress:
            progress = False
            w = used(t)
            head = queue[0]
            if w + head["R"] <= A:
                admit(queue.pop(0))
                progress = True
                continue
            if packing == "none":
                break
            at = head_time(head, 0) if packing == "head" else None
            for b in queue[1:]:
                if w + b["R"] <= A and (packing == "any" or head_time(head, b["R"]) <= at):
                    queue.remove(b)
                    admit(b)
                    progress = True
                    break
        t = round(t + step, 6)
    return last


def either(calls, factor=1.06, step=0.3, guard=0.375):
    level, minute, used = A, -1, 0.0
    queue, i, inflight, done, last, t = [], 0, [], 0, 0.0, 0.0
    for c in calls:
        c["R"], c["s"] = c["inp"] * factor + c["mt"], c["inp"] + 5 * c["out"]
    while done < len(calls):
        level = min(A, level + A / 60 * step)
        if int(t // 60) != minute:
            minute, used = int(t // 60), 0.0
        for f in [x for x in inflight if x[0] <= t]:
            inflight.remove(f)
            end, r, s, m0 = f
            level -= s - r
            if s > r or m0 == minute:
                used = max(0.0, used + s - r)
            done += 1
            last = max(last, end)
        while i < len(calls) and calls[i]["arr"] <= t:
            queue.append(calls[i])
            i += 1
        queue.sort(key=lambda c: (c["prio"], c["arr"]))
        pos = t % 60
        k = 0
        while k < len(queue):
            c = queue[k]
            if level >= c["R"] and used + c["R"] <= A and guard <= pos <= 60 - guard:
                queue.pop(k)
                level -= c["R"]
                used += c["R"]
                inflight.append((t + c["lat"], c["R"], c["s"], minute))
                continue
            k += 1
        t = round(t + step, 6)
    return last


def main():
    calls = load(sys.argv[1])
    b = bound(calls)
    variants = [
        ("sliding, strict order (before backfilling)", lambda: sliding(calls, "none", per=60.525)),
        ("sliding, backfill protecting the head (the Limiter)", lambda: sliding(calls, "head", per=60.525)),
        ("  the same, window exactly a minute (no margin, no sub-window rounding)", lambda: sliding(calls, "head")),
        ("  and reservations of the exact input (no estimate margin)", lambda: sliding(calls, "head", factor=1.0)),
        ("  and no latency (nothing held in flight, no last answers)",
         lambda: sliding(calls, "head", factor=1.0, latency=False)),
        ("sliding, any call that fits, exact window and input: its ceiling", lambda: sliding(calls, "any", factor=1.0)),
        ("token bucket and clock minutes both, any call that fits", lambda: either(calls)),
    ]
    print(f"{len(calls)} calls, lower bound {b:.0f}s", flush=True)
    for name, run in variants:
        makespan = run()
        print(f"{name:<75} makespan {makespan:7.1f}s  efficiency {b / makespan:.3f}", flush=True)


if __name__ == "__main__":
    main()
