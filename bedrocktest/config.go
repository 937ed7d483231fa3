package bedrocktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/quota"
)

// ParseOptions reads Options from YAML, as `tollgate emulate --config` does: the keys are
// the yaml tags of Options and of the types of its fields, plus window ("bucket" or
// "clock", Options.Window) and output_tokens (a positive N makes every reply N tokens
// long, Options.OutputTokens). A missing presets key means true. Unknown keys are
// errors, so that a misspelt setting is not silently ignored; New checks the values.
func ParseOptions(data []byte) (Options, error) {
	var f struct {
		Options      `yaml:",inline"`
		Window       string `yaml:"window"`
		OutputTokens int    `yaml:"output_tokens"`
	}
	f.Presets = true
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Options{}, fmt.Errorf("bedrocktest: config: %w", err)
	}
	o := f.Options
	switch f.Window {
	case "", "bucket", "token-bucket":
		o.Window = quota.TokenBucket
	case "clock", "clock-minute":
		o.Window = quota.ClockWindow
	default:
		return Options{}, fmt.Errorf("bedrocktest: config window: unknown window mode %q: use \"bucket\" (token bucket) or \"clock\" (clock-minute windows)", f.Window)
	}
	if f.OutputTokens < 0 {
		return Options{}, fmt.Errorf("bedrocktest: config output_tokens %d: must not be negative", f.OutputTokens)
	}
	if n := f.OutputTokens; n > 0 {
		o.OutputTokens = func(ReplyRequest) int { return n }
	}
	if !o.Presets && len(o.Models) == 0 {
		return Options{}, errors.New("bedrocktest: config: no models: keep the presets or list models")
	}
	return o, nil
}
