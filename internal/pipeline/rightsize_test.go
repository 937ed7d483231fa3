package pipeline_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/internal/estimate"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/pipeline"
	"github.com/tollgate-dev/tollgate/quota"
)

// rightSized is a call of task with max_tokens unset that the adapter lets the pipeline
// size.
func rightSized(task string) pipeline.Call {
	c := call()
	c.Task, c.RightSize = task, true
	req := *c.Request
	req.MaxTokens = 0
	c.Request = &req
	return c
}

// With InitialMaxTokens, a task's calls go out at once while it is learned, each with
// that max_tokens — none waits for the learners' replies, as without it — and once
// Learners replies are in, its calls are sized from them. No observer is given: the
// engine works without one.
func TestInitialMaxTokensWhileLearning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := pipeline.New(context.Background(), pipeline.Config{
			AWS:       aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
			Targets:   []pipeline.TargetConfig{{Model: sonnet35, Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}}}},
			RightSize: true, Learners: 3, InitialMaxTokens: 500,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()

		const calls = 5 // more than Learners: without InitialMaxTokens, 2 would wait
		release := make(chan struct{})
		var mu sync.Mutex
		var sent []int // max_tokens of the attempts in send now
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				_, err := e.Do(context.Background(), rightSized("review"), func(_ context.Context, a *pipeline.Attempt) (invoke.Usage, error) {
					mu.Lock()
					sent = append(sent, a.MaxTokens)
					mu.Unlock()
					<-release
					return invoke.Usage{Input: 40, Output: 100, Known: true}, nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait() // every call is in send, or blocked before it
		mu.Lock()
		if len(sent) != calls {
			t.Errorf("%d of %d calls of a task being learned went out at once; want all", len(sent), calls)
		}
		for i, n := range sent {
			if n != 500 {
				t.Errorf("call %d sent max_tokens %d while its task was learned; want InitialMaxTokens, 500", i, n)
			}
		}
		mu.Unlock()
		close(release)
		wg.Wait()

		var next int
		if _, err := e.Do(context.Background(), rightSized("review"), func(_ context.Context, a *pipeline.Attempt) (invoke.Usage, error) {
			next = a.MaxTokens
			return invoke.Usage{Input: 40, Output: 100, Known: true}, nil
		}); err != nil {
			t.Fatal(err)
		}
		want, _ := e.Predict("review", 0.99)
		if want = int(float64(want)*estimate.RightSizeHeadroom + 0.999); next != want || next >= 500 || next < 100 {
			t.Errorf("after %d replies of 100 tokens the call sent max_tokens %d; want the learned 99th percentile plus 20%% (%d), between 100 and 500", calls, next, want)
		}
	})
}

// Without InitialMaxTokens, only Learners calls of a task being learned go out (unsized);
// the others wait for their replies.
func TestLearnersGateWithoutInitialMaxTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := pipeline.New(context.Background(), pipeline.Config{
			AWS:       aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
			Targets:   []pipeline.TargetConfig{{Model: sonnet35, Limits: []quota.Limit{{Dimension: quota.Tokens, Amount: 1_000_000, Per: time.Minute}}}},
			RightSize: true, Learners: 3,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		release := make(chan struct{})
		var mu sync.Mutex
		var sent []int
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				_, _ = e.Do(context.Background(), rightSized("review"), func(_ context.Context, a *pipeline.Attempt) (invoke.Usage, error) {
					mu.Lock()
					sent = append(sent, a.MaxTokens)
					mu.Unlock()
					<-release
					return invoke.Usage{Input: 40, Output: 100, Known: true}, nil
				})
			})
		}
		synctest.Wait()
		mu.Lock()
		if len(sent) != 3 || sent[0] != 0 || sent[1] != 0 || sent[2] != 0 {
			t.Errorf("calls out while learning sent max_tokens %v; want 3 learners, unsized (0)", sent)
		}
		mu.Unlock()
		close(release)
		wg.Wait()
	})
}
