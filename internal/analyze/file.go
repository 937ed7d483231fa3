package analyze

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/quota"
)

// File is the configuration file of `tollgate analyze --config` (YAML). Every field is
// optional; command-line flags override it:
//
//	model: us.anthropic.claude-sonnet-4-20250514-v1:0
//	region: us-east-1
//	limits: ["400k tokens/min", "576M tokens/day", "50 requests/min"]  # as quota.Limit.String writes them
//	max_in_flight: 16
//	latency: {time_to_first_token: 600ms, per_output_token: 20ms}
//	reserve_burndown: false
//	quantile: 0.95
//	pending: 64
type File struct {
	Model  string `yaml:"model"`
	Region string `yaml:"region"`
	// Limits are the quotas, written as quota.Limit.String writes them. Given, they replace
	// discovery.
	Limits      []quota.Limit `yaml:"-"` // read as text: see fileText
	MaxInFlight int           `yaml:"max_in_flight"`
	Latency     struct {
		TimeToFirstToken time.Duration `yaml:"time_to_first_token"`
		PerOutputToken   time.Duration `yaml:"per_output_token"`
	} `yaml:"latency"`
	ReserveBurndown bool    `yaml:"reserve_burndown"`
	Quantile        float64 `yaml:"quantile"`
	Pending         int     `yaml:"pending"`
}

// fileText is a File as YAML writes it: limits as text.
type fileText struct {
	File   `yaml:",inline"`
	Limits []quotatext.Limit `yaml:"limits"`
}

// ParseFile reads a configuration file. Unknown keys are errors, so that a misspelt
// setting is not silently ignored; so are bad limits, negative counts and a quantile
// outside (0, 1]. An empty file is the zero File.
func ParseFile(data []byte) (File, error) {
	var ft fileText
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ft); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("analyze: config: %w", err)
	}
	f := ft.File
	f.Limits = quotatext.Limits(ft.Limits)
	var errs []error
	for _, l := range f.Limits {
		if err := quotatext.Validate(l); err != nil {
			errs = append(errs, err)
		}
	}
	if f.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max_in_flight %d is negative: use 0 for no cap", f.MaxInFlight))
	}
	if f.Pending < 0 {
		errs = append(errs, fmt.Errorf("pending %d is negative: use 0 for all at once", f.Pending))
	}
	if f.Quantile != 0 && !(f.Quantile > 0 && f.Quantile <= 1) {
		errs = append(errs, fmt.Errorf("quantile %v is not in (0, 1]: use e.g. 0.95", f.Quantile))
	}
	if err := errors.Join(errs...); err != nil {
		return File{}, fmt.Errorf("analyze: config: %w", err)
	}
	return f, nil
}
