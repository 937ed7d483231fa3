package bench

// WriteCharts writes one throughput chart per scenario run into dir and returns the
// files written.
func (rep *Report) WriteCharts(dir string) ([]string, error) { return nil, nil }
