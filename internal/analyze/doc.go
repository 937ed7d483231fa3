// Package analyze tells, for a model's quotas and a workload, which limit binds and by
// how much, what throughput is possible, how max_tokens changes it, and how long the
// workload will take: the engine of `tollgate analyze` and of `tollgate run --dry-run`.
//
// A Workload is a list of Requests (one model call each: input tokens, max_tokens,
// expected output), built by batch.Plan from documents or by FromResults from a previous
// run's results. New expands it into calls (with continuations where an output exceeds
// max_tokens), computes each constraint's need — usage with reservations held ÷ rate for
// every limit, the client's pacing, Little's law for a cap on calls in flight,
// the longest chain of calls for the latency — to name the binding one and the ceiling,
// and runs tollgate.Client's admission — its scheduler (internal/sched), pacer
// (internal/pace) and limits (pipeline.Admission) on a quota.NewMemory store — over
// simulated time for the time to process the workload and each priority class. The Report prints as text
// (WriteText), as JSON (its field tags) and, through package analyze/chart, as an image.
// docs/analyze.md has the formulas and the measured accuracy.
//
// LowerBound and Efficiency measure a finished run against the quotas.
package analyze
