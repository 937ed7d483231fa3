package wire

import (
	"encoding/json"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// EventWriter writes the frames of an event-stream response, flushing after each so that
// the client sees every event as it is produced. It is not safe for concurrent use.
type EventWriter struct {
	w     io.Writer
	flush func() error
	enc   *eventstream.Encoder
}

// NewEventWriter returns an EventWriter on w. flush, when not nil, is called after every
// frame (pass http.ResponseController(w).Flush).
func NewEventWriter(w io.Writer, flush func() error) *EventWriter {
	return &EventWriter{w: w, flush: flush, enc: eventstream.NewEncoder()}
}

// Event writes an event frame: :message-type "event", :event-type eventType,
// :content-type application/json and payload marshalled as JSON.
func (e *EventWriter) Event(eventType string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", eventType, err)
	}
	return e.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: body,
	})
}

// Exception writes an exception frame: :message-type "exception", :exception-type the
// lower-camel union member of the error (throttlingException for ThrottlingException) and
// the payload {"message": …}. The SDK surfaces it as the modeled error from the stream's
// Err method.
func (e *EventWriter) Exception(code ErrorCode, message string) error {
	body, err := json.Marshal(ErrorBody{Message: message})
	if err != nil {
		return fmt.Errorf("encoding %s frame: %w", code.Name, err)
	}
	return e.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(lowerFirst(code.Name))},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
		Payload: body,
	})
}

func (e *EventWriter) write(msg eventstream.Message) error {
	if err := e.enc.Encode(e.w, msg); err != nil {
		return err
	}
	if e.flush != nil {
		return e.flush()
	}
	return nil
}

// lowerFirst turns a shape name into its union member name: ThrottlingException becomes
// throttlingException.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}
