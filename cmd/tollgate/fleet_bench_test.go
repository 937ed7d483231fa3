package main

import "testing"

// BenchmarkFleetEfficiency measures what sharing one quota through Redis costs: the
// fleet's quota efficiency (design §6: the quota-rate lower bound of what the emulator
// settled ÷ the makespan, in emulated time) beside one instance's alone on the same
// load, in the same run. The goal is a ratio of at least 0.95.
//
// The load is TestFleetOfServesSharesOneQuota's (32 Go SDK callers, 384 Converse calls)
// through four "tollgate serve" processes sharing one Redis, then through one gateway
// alone; each before its own "tollgate emulate" at 30×, 40,000 tokens a minute.
//
// It reports each efficiency (fleet-eff, alone-eff) and their ratio (fleet/alone), the
// mean over b.N rounds:
//
//	go test -run '^$' -bench FleetEfficiency -benchtime 1x -count 3 ./cmd/tollgate/
func BenchmarkFleetEfficiency(b *testing.B) {
	var sf, sa, sr float64
	for range b.N {
		fleet, fleetTook := serveFleetLoad(b, 4)
		alone, aloneTook := serveFleetLoad(b, 1)
		if b.Failed() {
			b.FailNow()
		}
		fe, ae := efficiency(b, fleet, fleetTook), efficiency(b, alone, aloneTook)
		sf, sa, sr = sf+fe, sa+ae, sr+fe/ae
	}
	n := float64(b.N)
	b.ReportMetric(sf/n, "fleet-eff")
	b.ReportMetric(sa/n, "alone-eff")
	b.ReportMetric(sr/n, "fleet/alone")
	b.ReportMetric(0, "ns/op")
}
