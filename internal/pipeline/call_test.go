package pipeline_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

const sonnet35 = "anthropic.claude-3-5-sonnet-20240620-v1:0" // burndown 1

// events records what the pipeline told its observer, in order.
type events struct {
	mu  sync.Mutex
	log []string
	set []quota.Cost // settled costs of attempts whose usage was reported
}

func (e *events) add(s string) { e.mu.Lock(); e.log = append(e.log, s); e.mu.Unlock() }
func (e *events) Admitted(t *pipeline.Target, c *pipeline.Call, n int, _ time.Duration, _ quota.Cost) {
	e.add("admitted")
}
func (e *events) Retrying(_ *pipeline.Target, _ *pipeline.Call, k invoke.Kind) {
	e.add("retry " + k.String())
}
func (e *events) Ended(_ *pipeline.Target, _ *pipeline.Call, o invoke.Outcome, u invoke.Usage, _ int, settled quota.Cost) {
	e.add("ended " + o.Kind.String())
	if u.Known {
		e.mu.Lock()
		e.set = append(e.set, settled)
		e.mu.Unlock()
	}
}
func (e *events) Finished(_ string, _ *pipeline.Target, _ *pipeline.Call, outcome string) {
	e.add("finished " + outcome)
}
func (e *events) Counted(*pipeline.Target, int)                     {}
func (e *events) Sampled(*pipeline.Target, pipeline.TargetSnapshot) {}
func (e *events) got() []string                                     { e.mu.Lock(); defer e.mu.Unlock(); return slices.Clone(e.log) }

func engine(t *testing.T, obs pipeline.Observer) *pipeline.Engine {
	t.Helper()
	e, err := pipeline.New(context.Background(), pipeline.Config{
		AWS:     aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
		Targets: []pipeline.TargetConfig{{Model: sonnet35, Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}}}},
		Backoff: func(int) time.Duration { return time.Millisecond },
	}, obs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func call() pipeline.Call {
	return pipeline.Call{Model: sonnet35, Priority: quota.High, Request: &estimate.Request{
		Messages: []estimate.Message{{Role: "user", Content: []estimate.Block{{Kind: estimate.Text, Text: "Name the parties."}}}}, MaxTokens: 100}}
}

// A send that is not the SDK (as a gateway's handler is not): a throttle it reports by
// the service's error code is retried, and each attempt's outcome reaches the observer
// once, the throttle's cancelled and the success's settled at the usage reported.
func TestDoAdapterRetriesAThrottleAndSettles(t *testing.T) {
	obs := &events{}
	e := engine(t, obs)
	sends := 0
	rec, err := e.Do(context.Background(), call(), func(_ context.Context, a *pipeline.Attempt) (invoke.Usage, error) {
		sends++
		if a.Target.Region != "us-east-1" || a.Target.Model != sonnet35 || a.Target.AWS.Region != "us-east-1" {
			t.Errorf("attempt target = %s/%s (AWS region %s); want us-east-1/%s", a.Target.Region, a.Target.Model, a.Target.AWS.Region, sonnet35)
		}
		if a.N == 1 {
			return invoke.Usage{}, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Too many tokens, please wait before trying again."}
		}
		return invoke.Usage{Input: 40, Output: 60, Known: true}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Result()
	if sends != 2 || r.Attempts != 2 || r.Throttles != 1 || r.Target != "us-east-1/"+sonnet35 || r.Reserved.OutputTokens != 100 {
		t.Errorf("sends %d, result %+v; want 2 sends, 2 attempts, 1 throttle, on us-east-1, 100 output tokens reserved", sends, r)
	}
	want := []string{"admitted", "ended throttle", "retry throttle", "admitted", "ended ok", "finished ok"}
	if got := obs.got(); !slices.Equal(got, want) {
		t.Errorf("observer saw %q; want %q", got, want)
	}
	if len(obs.set) != 1 || obs.set[0].Tokens != 100 || obs.set[0].Requests != 1 {
		t.Errorf("settled %+v; want one settlement of 40 + 60 tokens, 1 request", obs.set)
	}
}

// A client error is not retried; the observer hears of one attempt and a failed call.
func TestDoClientErrorIsFinal(t *testing.T) {
	obs := &events{}
	e := engine(t, obs)
	rec, err := e.Do(context.Background(), call(), func(context.Context, *pipeline.Attempt) (invoke.Usage, error) {
		return invoke.Usage{}, &smithy.GenericAPIError{Code: "ValidationException", Message: "bad"}
	})
	if err == nil || rec.Result().Attempts != 1 {
		t.Fatalf("err %v after %d attempts; want the validation error after 1", err, rec.Result().Attempts)
	}
	want := []string{"admitted", "ended client_error", "finished failed"}
	if got := obs.got(); !slices.Equal(got, want) {
		t.Errorf("observer saw %q; want %q", got, want)
	}
}

// A deferred attempt (a stream) returns after Send and ends when the adapter reports the
// stream's end, through the same path: the call is not finished before, and Close waits.
func TestDoDeferredEndsThroughTheSamePath(t *testing.T) {
	obs := &events{}
	e := engine(t, obs)
	var end func(invoke.StreamEnd)
	rec, err := e.Do(context.Background(), call(), func(_ context.Context, a *pipeline.Attempt) (invoke.Usage, error) {
		end = a.Defer()
		return invoke.Usage{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := obs.got(); !slices.Equal(got, []string{"admitted"}) {
		t.Errorf("before the stream ended the observer saw %q; want only the admission", got)
	}
	end(invoke.StreamEnd{Outcome: invoke.Classify(&smithy.GenericAPIError{Code: "ThrottlingException", Message: "Too many tokens"}), OutputText: "The parties are"})
	want := []string{"admitted", "ended throttle", "finished throttled"}
	if got := obs.got(); !slices.Equal(got, want) {
		t.Errorf("observer saw %q; want %q", got, want)
	}
	if r := rec.Result(); r.Attempts != 1 || r.Throttles != 1 {
		t.Errorf("result %+v; want 1 attempt, 1 throttle (counted when the stream ended)", r)
	}
}
