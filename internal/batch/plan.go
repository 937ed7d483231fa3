package batch

import (
	"context"
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/results"
)

// Plan lists and reads the inputs as a run would and returns the calls it would make,
// for `tollgate analyze` and `tollgate run --dry-run`: one request per document, or one
// per chunk plus the combining call, with the input estimated at the richest verbosity
// level and max_tokens as the run would first send it. A document is split as Run splits
// it, by the same decision (the model's context window, cfg.ChunkTokens and the token
// limits of cfg.Limits): give Plan the limits the run is admitted under. The combining
// call's input is its prompt's own, plus the chunks' answers as the analysis expects
// them (analyze.Request.InputAddsParts). Documents a run would skip come back as Skipped
// records, with the reason.
func Plan(ctx context.Context, cfg Config) (analyze.Workload, []results.Record, error) {
	cfg, m, err := cfg.withDefaults()
	if err != nil {
		return analyze.Workload{}, nil, err
	}
	p, err := newPlanner(cfg, m)
	if err != nil {
		return analyze.Workload{}, nil, err
	}
	items, err := collect(cfg)
	if err != nil {
		return analyze.Workload{}, nil, err
	}
	w := analyze.Workload{Source: "inputs " + strings.Join(cfg.Inputs, ", ")}
	var skipped []results.Record
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return w, skipped, err
		}
		rec := results.Record{Path: it.path, Hash: it.hash, Status: results.Skipped, Priority: it.priority.String()}
		if it.err != nil {
			rec.Error = it.err.Error()
			skipped = append(skipped, rec)
			continue
		}
		j, err := p.prepare(ctx, it)
		if ctx.Err() != nil {
			return w, skipped, context.Cause(ctx)
		}
		if err != nil {
			rec.Error = err.Error()
			skipped = append(skipped, rec)
			continue
		}
		w.Documents++
		maxTok := p.maxTokensPlanned(it)
		name := strings.ReplaceAll(it.path, "#", "%23") // '#' separates a document's calls
		if j.chunks == nil {
			w.Requests = append(w.Requests, analyze.Request{Name: name, Priority: it.priority, InputTokens: j.inputTokens, MaxTokens: maxTok})
			continue
		}
		for i, n := range j.chunkInputs {
			w.Requests = append(w.Requests, analyze.Request{Name: fmt.Sprintf("%s#chunk%d", name, i+1), Priority: it.priority, InputTokens: n, MaxTokens: maxTok})
		}
		w.Requests = append(w.Requests, analyze.Request{Name: name + "#combine", Priority: it.priority, InputTokens: j.combineOwn, InputAddsParts: true, MaxTokens: maxTok})
	}
	return w, skipped, nil
}
