package sched

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// window is a Gate with one window of Amount: usage charged before t0 (old) leaves at
// t0+30s, usage charged at t0 leaves at t0+60s.
type window struct {
	amount, old, now int64
	tickets          map[uint64]int64
	admitted         []string
}

type item struct {
	name string
	cost int64
}

func (g *window) Reserve(now time.Time, c *Call[item]) Answer {
	n := c.Item.cost
	if g.old+g.now+n <= g.amount {
		g.now += n
		t := uint64(len(g.tickets) + 1)
		g.tickets[t] = n
		return Answer{OK: true, Ticket: t}
	}
	if g.now+n <= g.amount {
		return Answer{RetryAt: t0.Add(30 * time.Second)}
	}
	return Answer{RetryAt: t0.Add(60 * time.Second)}
}

func (g *window) Release(now time.Time, c *Call[item], a Answer) {
	g.now -= g.tickets[a.Ticket]
	delete(g.tickets, a.Ticket)
}

func (g *window) Decide(now time.Time, c *Call[item], a Answer) {
	g.admitted = append(g.admitted, c.Item.name)
}

func (g *window) Smaller(a, b item) bool { return a.cost < b.cost }

func enqueue(q *Queue[item], class int, tenant string, calls ...item) {
	for _, it := range calls {
		q.Enqueue(&Call[item]{Item: it, Class: class, Tenant: tenant, Service: float64(it.cost)})
	}
}

// TestBackfill: behind a head that waits, a smaller call is admitted when the head's
// earliest admission stays where it was, and given back when it would move later.
func TestBackfill(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old      int64
		calls    []item
		backfill bool
		want     []string
		wantAt   time.Time
	}{
		// Room 2: h (6) waits for the old usage to leave at 30 s; b2 (1) fits now and h
		// still fits at 30 s; b1 (3) and b3 (2) do not fit now.
		{"fits", 8, []item{{"h", 6}, {"b1", 3}, {"b2", 1}, {"b3", 2}}, true, []string{"b2"}, t0.Add(30 * time.Second)},
		// Room 6: h (7) waits until 30 s; b1 (3) leaves it 7 then; b2 (1) would leave 6,
		// moving h to 60 s: given back, as b3 (2) is.
		{"would delay the head", 4, []item{{"h", 7}, {"b1", 3}, {"b2", 1}, {"b3", 2}}, true, []string{"b1"}, t0.Add(30 * time.Second)},
		{"off", 8, []item{{"h", 6}, {"b1", 3}, {"b2", 1}}, false, nil, t0.Add(30 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &window{amount: 10, old: tc.old, tickets: map[uint64]int64{}}
			q := New[item](DefaultMinShare)
			enqueue(q, 2, "", tc.calls...)
			a, waiting := q.Dispatch(t0, g, tc.backfill)
			if diff := cmp.Diff(tc.want, g.admitted); diff != "" {
				t.Errorf("admitted (-want +got):\n%s", diff)
			}
			if !waiting || a.OK || !a.RetryAt.Equal(tc.wantAt) {
				t.Errorf("Dispatch = %+v, %v; want the head waiting until %v", a, waiting, tc.wantAt)
			}
			if got := q.Head(2).Item.name; got != "h" {
				t.Errorf("head %q after the backfill, want h", got)
			}
			var charged int64
			for _, n := range g.tickets {
				charged += n
			}
			if charged != g.now {
				t.Errorf("charged %d, tickets hold %d: a release went astray", g.now, charged)
			}
		})
	}
}

// TestOrder: strict priority with the guaranteed share of a lower class (a credit of
// 0.25 per unit served above at a share of 0.2), and tenants of one class taking turns.
func TestOrder(t *testing.T) {
	g := &window{amount: 1 << 40, tickets: map[uint64]int64{}}
	q := New[item](0.2)
	for _, n := range []string{"h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"} {
		enqueue(q, 1, "", item{n, 1})
	}
	enqueue(q, 3, "", item{"l1", 1}, item{"l2", 1})
	enqueue(q, 2, "b", item{"b1", 1}, item{"b2", 1})
	enqueue(q, 2, "a", item{"a1", 1}, item{"a2", 1})
	q.Enqueue(&Call[item]{Item: item{"a0", 1}, Class: 2, Tenant: "a", Service: 1, Front: true})
	if _, waiting := q.Dispatch(t0, g, true); waiting {
		t.Fatal("calls still wait with room for all")
	}
	// Both lower classes earn 0.25 per high call: after h4 each has 1, and the normal
	// class, the higher, goes first (a0, the retry at the front of tenant a). Its call,
	// served above the low class, earns that 0.25 more: l1 goes at once, and l2 after
	// h5–h7 bring it back to 1. Then the normal tenants take turns (b1 before a1: a
	// has been served once more).
	want := []string{"h1", "h2", "h3", "h4", "a0", "l1", "h5", "h6", "h7", "l2", "h8", "b1", "a1", "b2", "a2"}
	if diff := cmp.Diff(want, g.admitted); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}
