package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/quota"
)

// planLimits returns the limits a plan uses: those given, else the model's defaults.
func planLimits(cfg batch.Config, explicit []quota.Limit) ([]quota.Limit, error) {
	if explicit != nil {
		return explicit, nil
	}
	m, ref, err := cfg.Catalog.Lookup(cfg.Model)
	if err != nil {
		return nil, usageError{fmt.Errorf("--model: %w", err)}
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	ls, err := m.Limits(ref.Scope, region, false)
	if err != nil {
		return nil, usageError{fmt.Errorf("--model %s: %w: give --tpm", cfg.Model, err)}
	}
	return ls, nil
}

// plannedDuration is the lower bound of the planned workload under the limits, used to
// pick the emulator's time scale.
func plannedDuration(ctx context.Context, cfg batch.Config, explicit []quota.Limit) (time.Duration, error) {
	limits, err := planLimits(cfg, explicit)
	if err != nil {
		return 0, err
	}
	w, _, err := batch.Plan(ctx, cfg)
	if err != nil {
		return 0, usageError{err}
	}
	m, _, _ := cfg.Catalog.Lookup(cfg.Model)
	var used quota.Cost
	for _, r := range w.Requests {
		out := analyze.DefaultOutput(r.InputTokens)
		used = used.Add(quota.Cost{Requests: 1, InputTokens: int64(r.InputTokens), OutputTokens: int64(out),
			Tokens: int64(r.InputTokens) + int64(float64(out)*m.OutputBurndown)})
	}
	d, _, _ := analyze.LowerBound(limits, used)
	return d, nil
}

// dryRun prints the plan of a run without making calls.
func dryRun(ctx context.Context, w io.Writer, cfg batch.Config, f runFlags, explicit []quota.Limit) error {
	d, err := plannedDuration(ctx, cfg, explicit)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "plan: %v\n", d)
	return nil
}
