package tollgate

import "github.com/tollgate-dev/tollgate/internal/pipeline"

// NewTuned is New with tune editing the pipeline's configuration: the tests' way to the
// knobs Config leaves out (margins, pacing, backoff, quota discovery).
var NewTuned = newClient

// Pipeline returns the client c wraps, for the readings Client leaves out (Snapshot,
// Forecast, Options.Queued).
func (c *Client) Pipeline() *pipeline.Client { return c.c }
