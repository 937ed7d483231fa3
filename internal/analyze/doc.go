// Package analyze tells, for a model's quotas and a workload, which limit binds and by
// how much, what throughput is possible, how max_tokens changes it, and how long the
// workload will take: the engine of `tollgate analyze` and of `tollgate run --dry-run`.
package analyze
