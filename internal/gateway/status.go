package gateway

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"time"
)

// Status is what the status page at / shows and /status.json serves: the state of the
// gateway's targets, queues and tenants at one moment.
type Status struct {
	// Time is when the status was taken.
	Time time.Time `json:"time"`
	// Targets lists the upstream targets (a model in a region or an inference profile).
	Targets []TargetStatus `json:"targets"`
	// Queues lists the waiting calls per priority class, highest class first.
	Queues []QueueStatus `json:"queues"`
	// Tenants lists the use of each tenant.
	Tenants []TenantStatus `json:"tenants"`
}

// TargetStatus is the quota use of one upstream target.
type TargetStatus struct {
	// Name identifies the target to a person, e.g. "us-east-1 anthropic.claude-sonnet-4".
	Name string `json:"name"`
	// Limits lists the target's quotas with their use.
	Limits []LimitStatus `json:"limits"`
	// InFlight is the number of calls under way on the target.
	InFlight int `json:"inFlight"`
	// Throttles counts the throttles the target answered since the gateway started.
	Throttles int64 `json:"throttles"`
	// Shared is true when the target's quota is shared with other instances through
	// Redis (serve --redis).
	Shared bool `json:"shared"`
	// DegradedSince, when set, is when that Redis became unreachable: the gateway admits
	// from its last grant, then within its own part of each limit, until Redis answers.
	DegradedSince *time.Time `json:"degradedSince,omitempty"`
}

// LimitStatus is one quota of a target and its use.
type LimitStatus struct {
	// Name is the quota in words, e.g. "tokens per minute".
	Name string `json:"name"`
	// Limit is the quota in its unit; zero means unknown.
	Limit float64 `json:"limit"`
	// Used is the use counted against the quota now, in the same unit.
	Used float64 `json:"used"`
	// History is the use over the last minutes, oldest first.
	History []Sample `json:"history,omitempty"`
}

// Sample is the use of a quota at one moment.
type Sample struct {
	// At is when the sample was taken.
	At time.Time `json:"at"`
	// Used is the use at that moment.
	Used float64 `json:"used"`
}

// QueueStatus is the queue of one priority class.
type QueueStatus struct {
	// Priority is the class's name: critical, high, normal, low or background.
	Priority string `json:"priority"`
	// Waiting is the number of calls waiting in the class.
	Waiting int `json:"waiting"`
	// OldestWaitSeconds is how long the longest-waiting call of the class has waited.
	OldestWaitSeconds float64 `json:"oldestWaitSeconds"`
	// MeanWaitSeconds is the mean wait of the class's calls admitted in the last minute.
	MeanWaitSeconds float64 `json:"meanWaitSeconds"`
}

// TenantStatus is the use of one tenant.
type TenantStatus struct {
	// Name is the tenant's name.
	Name string `json:"name"`
	// TokensLastMinute and RequestsLastMinute are the tenant's use in the last minute.
	TokensLastMinute   float64 `json:"tokensLastMinute"`
	RequestsLastMinute float64 `json:"requestsLastMinute"`
	// TokensPerMinute is the tenant's own limit; zero means none.
	TokensPerMinute int64 `json:"tokensPerMinute"`
	// InFlight and Waiting are the tenant's calls under way and queued.
	InFlight int `json:"inFlight"`
	Waiting  int `json:"waiting"`
	// Throttled counts the 429s the gateway answered the tenant since it started.
	Throttled int64 `json:"throttled"`
}

//go:embed status.html
var statusPage []byte

// serveStatusPage serves the page; it loads /status.json itself.
func serveStatusPage(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	_, _ = w.Write(statusPage)
}

// serveStatusJSON serves the status as JSON.
func serveStatusJSON(w http.ResponseWriter, st Status) {
	if st.Targets == nil {
		st.Targets = []TargetStatus{}
	}
	if st.Queues == nil {
		st.Queues = []QueueStatus{}
	}
	if st.Tenants == nil {
		st.Tenants = []TenantStatus{}
	}
	body, err := json.Marshal(st)
	if err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}
