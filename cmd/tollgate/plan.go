package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/analyze"
	"github.com/tollgate-dev/tollgate/internal/batch"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/results"
	"github.com/tollgate-dev/tollgate/quota"
)

// planLimits returns the limits a plan and an emulated run use: those given, else the
// model's AWS defaults, and says which.
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
//
// With emulate, it plans a run against the in-process emulator at timeScale (0: the
// scale emulatedScale chooses from this plan) and returns that scale. The client's
// window margin is real time (it covers real delays), so at N× it holds each emulated
// window N times its margin longer than on a real account; the plan counts that, to
// predict the emulated run.
func planReport(ctx context.Context, cfg batch.Config, explicit []quota.Limit, emulate bool, timeScale float64) (*analyze.Report, []results.Record, float64, error) {
	limits, source, err := planLimits(cfg, explicit)
	if err != nil {
		return nil, nil, 0, err
	}
	w, skipped, err := planWorkload(ctx, cfg, limits)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(w.Requests) == 0 {
		return nil, skipped, 0, usageError{nothingToPlan(cfg.Inputs, skipped)}
	}
	m, _, _ := cfg.Catalog.Lookup(cfg.Model) // checked by planLimits
	pending := cfg.Pending
	if pending == 0 {
		pending = batch.DefaultPending
	}
	analyzeAt := func(scale float64) (*analyze.Report, error) {
		return analyze.New(analyze.Config{Model: m, ModelID: cfg.Model, Limits: limits, LimitsSource: source, Workload: w,
			Params: analyze.Params{ReserveBurndown: cfg.ReserveWithBurndown, Pending: pending, Pacing: batch.ClientPacing,
				WindowMargin: time.Duration(float64(pipeline.DefaultWindowMargin) * scale)}})
	}
	scale := 1.0
	if emulate && timeScale > 0 {
		scale = timeScale
	}
	rep, err := analyzeAt(scale)
	if err != nil {
		return nil, skipped, 0, err
	}
	if !emulate {
		return rep, skipped, 0, nil
	}
	if timeScale == 0 {
		if scale = emulatedScale(rep.Makespan); scale != 1 {
			if rep, err = analyzeAt(scale); err != nil {
				return nil, skipped, 0, err
			}
		}
	}
	if scale != 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("emulated at %.3g×: the client's window margin of %s is real time, %s of emulated time, so each window is held that much longer than on a real account; the plan counts it",
			scale, analyze.Human(pipeline.DefaultWindowMargin), analyze.Human(time.Duration(float64(pipeline.DefaultWindowMargin)*scale))))
	}
	return rep, skipped, scale, nil
}

// emulatedScale is the time scale of an emulated run planned to take planned (in
// emulated time): about a minute of real time, at least real time, at most 60×.
func emulatedScale(planned time.Duration) float64 {
	return min(max(planned.Seconds()/50, 1), 60)
}

// planWorkload returns the calls a run of cfg would make under limits: the documents
// are split into chunks by the limits the calls are admitted under, as the run splits
// them (batch.Config.Limits), so that the plan and the run send the same calls.
func planWorkload(ctx context.Context, cfg batch.Config, limits []quota.Limit) (analyze.Workload, []results.Record, error) {
	cfg.Limits = limits
	w, skipped, err := batch.Plan(ctx, cfg)
	if err != nil {
		return w, skipped, usageError{err}
	}
	return w, skipped, nil
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
	rep, skipped, _, err := planReport(ctx, cfg, explicit, f.emulate, f.timeScale)
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
