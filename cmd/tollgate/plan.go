package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// planLimits returns the limits a plan uses: those given, else the model's AWS defaults,
// and says which.
func planLimits(cfg batch.Config, explicit []quota.Limit) ([]quota.Limit, string, error) {
	if explicit != nil {
		return explicit, "given by flags", nil
	}
	m, ref, err := cfg.Catalog.Lookup(cfg.Model)
	if err != nil {
		return nil, "", usageError{fmt.Errorf("--model: %w", err)}
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	ls, err := m.Limits(ref.Scope, region, false)
	if err != nil {
		return nil, "", usageError{fmt.Errorf("--model %s: %w: give --tpm", cfg.Model, err)}
	}
	return ls, "AWS defaults for " + region + "; give --tpm/--tpd, or see tollgate quotas for the account's", nil
}

// planReport analyses the run cfg describes without making calls: the documents as the
// run would read and split them, under the limits given or the model's defaults.
func planReport(ctx context.Context, cfg batch.Config, explicit []quota.Limit) (*analyze.Report, []results.Record, error) {
	limits, source, err := planLimits(cfg, explicit)
	if err != nil {
		return nil, nil, err
	}
	w, skipped, err := batch.Plan(ctx, cfg)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if len(w.Requests) == 0 {
		return nil, skipped, usageError{nothingToPlan(cfg.Inputs, skipped)}
	}
	m, _, _ := cfg.Catalog.Lookup(cfg.Model) // checked by planLimits
	pending := cfg.Pending
	if pending == 0 {
		pending = batch.DefaultPending
	}
	rep, err := analyze.New(analyze.Config{Model: m, ModelID: cfg.Model, Limits: limits, LimitsSource: source, Workload: w,
		Params: analyze.Params{ReserveBurndown: cfg.ReserveWithBurndown, Pending: pending, Pacing: batch.ClientPacing}})
	if err != nil {
		return nil, skipped, err
	}
	return rep, skipped, nil
}

// maxReasons bounds the skipped files an error lists.
const maxReasons = 10

// nothingToPlan is the error of inputs without a readable document: why each was skipped.
func nothingToPlan(inputs []string, skipped []results.Record) error {
	var b strings.Builder
	q := make([]string, len(inputs))
	for i, in := range inputs {
		q[i] = batch.Quote(in)
	}
	fmt.Fprintf(&b, "nothing to plan: no readable document in %s", strings.Join(q, ", "))
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "; %d file(s) skipped:", len(skipped))
	}
	for i, s := range skipped {
		if i == maxReasons {
			fmt.Fprintf(&b, "\n  … and %d more", len(skipped)-maxReasons)
			break
		}
		fmt.Fprintf(&b, "\n  %s: %s", batch.Quote(s.Path), batch.Escape(s.Error))
	}
	return errors.New(b.String())
}

// dryRun prints the plan of a run without making calls.
func dryRun(ctx context.Context, w io.Writer, cfg batch.Config, f runFlags, explicit []quota.Limit) error {
	rep, skipped, err := planReport(ctx, cfg, explicit)
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			*analyze.Report
			Skipped []results.Record `json:"skipped,omitempty"`
		}{rep, skipped})
	}
	fmt.Fprintln(w, "Dry run: no calls made. The plan:")
	if err := rep.WriteText(w); err != nil {
		return err
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "\nWould skip %d file(s):\n", len(skipped))
		for _, s := range skipped {
			fmt.Fprintf(w, "  %s: %s\n", batch.Quote(s.Path), batch.Escape(s.Error))
		}
	}
	return nil
}
