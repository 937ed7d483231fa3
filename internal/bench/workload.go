package bench

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate"
)

// task is the tollgate.Call.Task key of every call: the learned output length is per task.
const task = "contract-review"

// job is one call of the workload, the same for every strategy.
type job struct {
	id       int
	doc      string // document text
	words    int    // words in the prompt and document (dual-bucket's estimate)
	priority tollgate.Priority
	arrival  time.Duration // emulated, from the start of the run
}

// workload builds the scenario's calls: documents drawn in a seeded order, priorities
// drawn from the weights, arrivals from the pattern.
func workload(s *Scenario, docs []string, n int) []job {
	rng := rand.New(rand.NewPCG(s.Seed, 0x70116a7e))
	order := rng.Perm(len(docs))
	jobs := make([]job, n)
	p := s.Priorities
	total := p.High + p.Normal + p.Low
	promptWords := len(strings.Fields(s.Prompt))
	for i := range jobs {
		d := docs[order[i%len(order)]]
		pri := tollgate.Normal
		if total > 0 {
			switch x := rng.Float64() * total; {
			case x < p.High:
				pri = tollgate.High
			case x < p.High+p.Normal:
				pri = tollgate.Normal
			default:
				pri = tollgate.Low
			}
		}
		jobs[i] = job{id: i, doc: d, words: promptWords + len(strings.Fields(d)), priority: pri, arrival: arrivalAt(s.Arrival, i)}
	}
	return jobs
}

// arrivalAt is when call i arrives, in emulated time from the start.
func arrivalAt(a Arrival, i int) time.Duration {
	switch a.Pattern {
	case "bursts":
		return time.Duration(i/a.Burst) * a.Gap
	default:
		if a.PerMinute <= 0 {
			return 0
		}
		return time.Duration(float64(i) / a.PerMinute * float64(time.Minute))
	}
}

// request is the Converse input of a job: the scenario's prompt as system prompt, the
// document as the user message, max_tokens when the scenario sets it.
func (s *Scenario) request(j job) *bedrockruntime.ConverseInput {
	in := &bedrockruntime.ConverseInput{
		ModelId: aws.String(s.Model),
		System:  []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: s.Prompt}},
		Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberText{Value: j.doc},
		}}},
	}
	if s.MaxTokens > 0 {
		in.InferenceConfig = &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(s.MaxTokens))}
	}
	return in
}

// loadDocuments reads the .txt files under dirs (subdirectories included), in path
// order, truncated to maxChars.
func loadDocuments(dirs []string, maxChars int) ([]string, error) {
	var names []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".txt") {
				names = append(names, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDocuments, err)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no .txt files in %s", ErrDocuments, strings.Join(dirs, ", "))
	}
	docs := make([]string, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		d := string(b)
		if maxChars > 0 && len(d) > maxChars {
			d = d[:maxChars]
			for !utf8.ValidString(d) {
				d = d[:len(d)-1]
			}
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// outputTokens returns the emulator's reply-length function for o: log-normal around the
// median, deterministic in the prompt's seed and the scenario's.
func (o Output) outputTokens(seed uint64) func(inputTokens int, prompt uint64) int {
	if o.Median == 0 {
		return nil
	}
	return func(_ int, prompt uint64) int {
		rng := rand.New(rand.NewPCG(prompt, seed))
		n := int(math.Min(math.Round(float64(o.Median)*math.Exp(o.Sigma*rng.NormFloat64())), 1e9))
		if o.Max > 0 {
			n = min(n, o.Max)
		}
		return max(n, o.Min, 1)
	}
}
