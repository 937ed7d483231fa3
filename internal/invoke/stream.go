package invoke

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// StreamEnd is what a stream watcher saw when the stream ended.
type StreamEnd struct {
	// Usage is the usage of the stream's final metadata event (ConverseStream) or
	// amazon-bedrock-invocationMetrics (InvokeModelWithResponseStream); Known is false
	// when it did not arrive.
	Usage Usage
	// OutputText is the output text seen: text, reasoning text and tool-use input
	// deltas, concatenated. When the caller closed the stream early it can hold one
	// event more than the caller received (the one the watcher was handing over).
	OutputText string
	// Outcome is the stream's final error classified: OK when it ended normally (or
	// was closed after its usage arrived), Canceled (ErrStreamClosed) when the caller
	// closed it before, the exception's kind for a mid-stream exception frame.
	Outcome Outcome
}

// errNoStream is reported when there is no stream to watch.
var errNoStream = errors.New("invoke: no event stream to watch")

// WatchConverseStream replaces out's event stream by one that yields the same events,
// Close and Err, while it watches them, and calls done exactly once when the stream
// ends: after the last event was read (before the events channel closes), when Close
// is called, or on an error or exception frame. done runs on the watcher's goroutine
// and must not call the stream's Close.
//
// Call it right after ConverseStream returns, before anything reads the stream.
// Events are handed over unbuffered, so a stream that is neither read to its end nor
// closed does not end, as with the SDK's own stream. The SDK offers no way to set an
// output's stream, so the watcher sets its unexported field by reflection, checking
// its name and type; if this SDK version's output cannot be rewired the stream is
// left unwatched and done is called at once with an Other outcome (a test guards
// against that), as it is when out has no stream.
func WatchConverseStream(out *bedrockruntime.ConverseStreamOutput, done func(StreamEnd)) {
	var src *bedrockruntime.ConverseStreamEventStream
	if out != nil {
		src = out.GetStream()
	}
	watch(out, src, src != nil && src.Reader != nil, done, observeConverse,
		func(w *watcher[types.ConverseStreamOutput]) *bedrockruntime.ConverseStreamEventStream {
			return bedrockruntime.NewConverseStreamEventStream(func(es *bedrockruntime.ConverseStreamEventStream) { es.Reader = w })
		})
}

// WatchInvokeStream is WatchConverseStream for InvokeModelWithResponseStream: chunk
// events carry the model's JSON; content_block_delta text is the output text and the
// final chunk's amazon-bedrock-invocationMetrics the usage.
func WatchInvokeStream(out *bedrockruntime.InvokeModelWithResponseStreamOutput, done func(StreamEnd)) {
	var src *bedrockruntime.InvokeModelWithResponseStreamEventStream
	if out != nil {
		src = out.GetStream()
	}
	watch(out, src, src != nil && src.Reader != nil, done, observeInvoke,
		func(w *watcher[types.ResponseStream]) *bedrockruntime.InvokeModelWithResponseStreamEventStream {
			return bedrockruntime.NewInvokeModelWithResponseStreamEventStream(func(es *bedrockruntime.InvokeModelWithResponseStreamEventStream) { es.Reader = w })
		})
}

// watch puts a watcher of src in out's place: wrap builds the SDK stream type around
// the watcher, and ok says whether there is a stream to watch at all.
func watch[E, S any](out any, src source[E], ok bool, done func(StreamEnd), observe func(*observed, E), wrap func(*watcher[E]) *S) {
	if !ok {
		finishErr(done, errNoStream)
		return
	}
	w := newWatcher(src, done, observe)
	if !setEventStream(out, wrap(w)) {
		finishErr(done, errCannotWatch)
		return
	}
	w.start()
}

// errCannotWatch is reported when the SDK's output type no longer has the field the
// watcher replaces; the stream is then left as it was, unwatched.
var errCannotWatch = errors.New("invoke: cannot watch this SDK version's event stream")

func finishErr(done func(StreamEnd), err error) {
	if done != nil {
		done(StreamEnd{Outcome: Outcome{Kind: Other, Message: err.Error(), Err: err}})
	}
}

// setEventStream stores es in the unexported eventStream field of the SDK output out
// points to. The SDK offers no setter; the field's name and type are checked, and a
// test guards them for the SDK version in go.mod. It reports whether it could.
func setEventStream[T any](out any, es *T) bool {
	v := reflect.ValueOf(out)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("eventStream")
	if !f.IsValid() || f.Type() != reflect.TypeOf(es) {
		return false
	}
	*(**T)(unsafe.Pointer(f.UnsafeAddr())) = es
	return true
}

// source is the SDK's own event stream.
type source[E any] interface {
	Events() <-chan E
	Close() error
	Err() error
}

// watcher forwards a source's events through one goroutine, observing each.
type watcher[E any] struct {
	src     source[E]
	done    func(StreamEnd)
	observe func(*observed, E)

	events    chan E
	stop      chan struct{}
	finished  chan struct{}
	stopOnce  sync.Once
	startOnce sync.Once

	seen observed // owned by the goroutine
}

// observed is what the watcher saw.
type observed struct {
	text  strings.Builder
	usage Usage
}

func newWatcher[E any](src source[E], done func(StreamEnd), observe func(*observed, E)) *watcher[E] {
	return &watcher[E]{
		src:      src,
		done:     done,
		observe:  observe,
		events:   make(chan E),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
}

func (w *watcher[E]) start() {
	w.startOnce.Do(func() { go w.run() })
}

func (w *watcher[E]) run() {
	defer close(w.finished)
	defer close(w.events)
	in := w.src.Events()
	for {
		select {
		case <-w.stop:
			w.closedEarly()
			return
		case ev, ok := <-in:
			if !ok {
				w.end(w.src.Err())
				return
			}
			w.observe(&w.seen, ev)
			select {
			case w.events <- ev:
			case <-w.stop:
				w.closedEarly()
				return
			}
		}
	}
}

// closedEarly ends a stream the caller closed: the SDK's stream is closed, and an
// error it had already met is reported rather than ErrStreamClosed. A stream whose
// usage arrived (it comes last) was complete: closing it then is no error.
func (w *watcher[E]) closedEarly() {
	_ = w.src.Close()
	err := w.src.Err()
	if err == nil && !w.seen.usage.Known {
		err = ErrStreamClosed
	}
	w.end(err)
}

func (w *watcher[E]) end(err error) {
	if w.done != nil {
		w.done(StreamEnd{Usage: w.seen.usage, OutputText: w.seen.text.String(), Outcome: Classify(err)})
	}
}

// Events implements the SDK's reader interface: the events, unchanged.
func (w *watcher[E]) Events() <-chan E { return w.events }

// Close implements the SDK's reader interface: it stops the watcher, closes the SDK's
// stream and waits for the watcher's goroutine to end (done has run when it returns).
func (w *watcher[E]) Close() error {
	w.stopOnce.Do(func() { close(w.stop) })
	w.start() // a watcher never started ends at once, calling done
	<-w.finished
	return w.src.Close()
}

// Err implements the SDK's reader interface: the SDK stream's error.
func (w *watcher[E]) Err() error { return w.src.Err() }

func observeConverse(o *observed, ev types.ConverseStreamOutput) {
	switch e := ev.(type) {
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		switch d := e.Value.Delta.(type) {
		case *types.ContentBlockDeltaMemberText:
			o.text.WriteString(d.Value)
		case *types.ContentBlockDeltaMemberToolUse:
			if d.Value.Input != nil {
				o.text.WriteString(*d.Value.Input)
			}
		case *types.ContentBlockDeltaMemberReasoningContent:
			if t, ok := d.Value.(*types.ReasoningContentBlockDeltaMemberText); ok {
				o.text.WriteString(t.Value)
			}
		}
	case *types.ConverseStreamOutputMemberMetadata:
		if e.Value.Usage != nil {
			o.usage = tokenUsage(e.Value.Usage)
		}
	}
}

// anthropicChunk is the part of an Anthropic Messages stream chunk the watcher reads.
type anthropicChunk struct {
	Type  string `json:"type"`
	Delta struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		Thinking    string `json:"thinking"`
	} `json:"delta"`
	Metrics *struct {
		InputTokenCount           *int64 `json:"inputTokenCount"`
		OutputTokenCount          *int64 `json:"outputTokenCount"`
		CacheReadInputTokenCount  int64  `json:"cacheReadInputTokenCount"`
		CacheWriteInputTokenCount int64  `json:"cacheWriteInputTokenCount"`
	} `json:"amazon-bedrock-invocationMetrics"`
}

func observeInvoke(o *observed, ev types.ResponseStream) {
	c, ok := ev.(*types.ResponseStreamMemberChunk)
	if !ok {
		return
	}
	if u, ok := AnthropicChunk(c.Value.Bytes, &o.text); ok {
		o.usage = u
	}
}

// AnthropicChunk reads one InvokeModelWithResponseStream chunk (an Anthropic Messages
// stream event, as JSON): it appends the output text it carries — text, tool-use input
// and reasoning — to text, and returns the usage the last chunk reports
// (amazon-bedrock-invocationMetrics), with ok true, when this is that chunk.
func AnthropicChunk(data []byte, text *strings.Builder) (u Usage, ok bool) {
	var ch anthropicChunk
	if json.Unmarshal(data, &ch) != nil {
		return Usage{}, false
	}
	if ch.Type == "content_block_delta" {
		text.WriteString(ch.Delta.Text)
		text.WriteString(ch.Delta.PartialJSON)
		text.WriteString(ch.Delta.Thinking)
	}
	m := ch.Metrics
	if m == nil || m.InputTokenCount == nil || m.OutputTokenCount == nil || *m.InputTokenCount < 0 || *m.OutputTokenCount < 0 {
		return Usage{}, false
	}
	return Usage{
		Input:      *m.InputTokenCount,
		Output:     *m.OutputTokenCount,
		CacheRead:  max(m.CacheReadInputTokenCount, 0),
		CacheWrite: max(m.CacheWriteInputTokenCount, 0),
		Known:      true,
	}, true
}
