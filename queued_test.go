package tollgate_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/internal/quotatext"
)

// TestPrioritiesAdmitHighFirst: when a target is saturated, a High call waiting for it
// is admitted ahead of every Low one, even those that queued before it. The target takes
// one call at a time and an open stream holds that one place; two Low calls queue, then
// a High one (each handed over once the one before is queued: pipeline.Options.Queued,
// what `tollgate run` uses), and all three are admitted when the stream ends.
func TestPrioritiesAdmitHighFirst(t *testing.T) {
	// Each call takes 6 emulated seconds (0.1 s here), so the calls served one at a time
	// end in the order they were admitted.
	srv, err := bedrocktest.NewServer(bedrocktest.Options{TimeScale: 60, Latency: bedrocktest.Latency{TimeToFirstToken: 6 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	client, err := tollgate.New(context.Background(), tollgate.Config{AWS: exampleAWS, Targets: []tollgate.Target{
		{Model: model, Endpoint: srv.URL, MaxInFlight: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pc := client.Pipeline()

	// A stream holds its place until it is read to its end or closed.
	in := ask(model, "List the parties.")
	stream, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		order []string // calls in the order they were served (one at a time)
		wg    sync.WaitGroup
		out   strings.Builder
	)
	send := func(p tollgate.Priority, question string) {
		queued := make(chan struct{})
		c := pc.With(pipeline.Options{Priority: p, Queued: func() { close(queued) }})
		wg.Go(func() {
			if _, err := c.Converse(context.Background(), ask(model, question)); err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, p.String()+": "+question)
			mu.Unlock()
		})
		<-queued // in the queue before the next call is sent
	}
	send(tollgate.Low, "Summarise annex A.")
	send(tollgate.Low, "Summarise annex B.")
	send(tollgate.High, "Is clause 7 enforceable?")

	snap, err := pc.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range quotatext.Priorities {
		if n := snap[0].Queued[i]; n > 0 {
			fmt.Fprintf(&out, "waiting %s: %d\n", p, n)
		}
	}

	for range stream.GetStream().Events() {
	}
	stream.GetStream().Close()
	wg.Wait()
	fmt.Fprintln(&out, "served in this order:")
	for _, o := range order {
		fmt.Fprintln(&out, " ", o)
	}
	want := `waiting high: 1
waiting low: 2
served in this order:
  high: Is clause 7 enforceable?
  low: Summarise annex A.
  low: Summarise annex B.
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestTwoRegionsLimitSources: targets without Limits take the catalog's defaults, and
// each target's snapshot says so.
func TestTwoRegionsLimitSources(t *testing.T) {
	srv := startEmulator()
	defer srv.Close()
	const model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	client, err := tollgate.New(context.Background(), tollgate.Config{AWS: exampleAWS, Targets: []tollgate.Target{
		{Region: "us-east-1", Model: model, Endpoint: srv.URL},
		{Region: "us-west-2", Model: model, Endpoint: srv.URL},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for i := 0; i < 3; i++ {
		if _, err := client.Converse(context.Background(), ask(model, "Who are the parties?")); err != nil {
			t.Fatal(err)
		}
	}
	snap, _ := client.Pipeline().Snapshot(context.Background())
	var got []string
	for _, s := range snap {
		got = append(got, s.Target+" limits from "+s.Source)
	}
	want := []string{
		"us-east-1/us.anthropic.claude-sonnet-4-20250514-v1:0 limits from catalog default",
		"us-west-2/us.anthropic.claude-sonnet-4-20250514-v1:0 limits from catalog default",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("snapshot sources:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
