package pipeline_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// A call marked Front (a gateway caller's retry of a call that already waited its turn)
// is admitted ahead of its tenant's calls of its class that queued before it.
func TestDoFrontQueuesAheadOfItsTenant(t *testing.T) {
	e, err := pipeline.New(context.Background(), pipeline.Config{
		AWS: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
		Targets: []pipeline.TargetConfig{{Model: sonnet35, MaxInFlight: 1,
			Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}}}},
	}, &events{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	callOf := func(name string, front bool, queued func()) pipeline.Call {
		return pipeline.Call{Model: sonnet35, Tenant: "team-a", Front: front, Queued: queued, Request: &estimate.Request{
			Messages: []estimate.Message{{Role: "user", Content: []estimate.Block{{Kind: estimate.Text, Text: name}}}}, MaxTokens: 10}}
	}
	var mu sync.Mutex
	var order []string
	release := make(chan struct{})
	send := func(name string) pipeline.Send {
		return func(context.Context, *pipeline.Attempt) (invoke.Usage, error) {
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			if name == "first" {
				<-release // holds the one place in flight while the others queue
			}
			return invoke.Usage{Input: 5, Output: 5, Known: true}, nil
		}
	}
	var wg sync.WaitGroup
	start := func(name string, front bool) {
		queued := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Do(context.Background(), callOf(name, front, func() { close(queued) }), send(name)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
		<-queued
	}
	start("first", false)
	start("waiting", false)
	start("retry", true)
	close(release)
	wg.Wait()
	if want := []string{"first", "retry", "waiting"}; !slices.Equal(order, want) {
		t.Errorf("sent in the order %q; want %q: the Front call ahead of the one that queued before it", order, want)
	}
}
