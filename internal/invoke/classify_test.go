package invoke_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/bedrocktest"
	"github.com/tollgate-dev/tollgate/internal/emustats"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// TestClassifyEmulator classifies the errors the emulator produces, through the real
// SDK, and checks that each was exactly one HTTP attempt.
func TestClassifyEmulator(t *testing.T) {
	limited := func(l bedrocktest.Limits) bedrocktest.Options {
		o := options(0, 5)
		o.Limits = map[string]bedrocktest.Limits{nova: l}
		return o
	}
	tests := []struct {
		name     string
		opts     bedrocktest.Options
		faults   bedrocktest.Faults
		calls    int // calls made; the last one is classified
		in       *bedrockruntime.ConverseInput
		kind     invoke.Kind
		reason   invoke.Reason
		code     string
		status   int
		throttle string // the emulator's throttle counter that must be 1
	}{
		{name: "tokens per minute", opts: limited(bedrocktest.Limits{TokensPerMinute: 10}), calls: 1,
			kind: invoke.Throttle, reason: invoke.Tokens, code: "ThrottlingException", status: 429, throttle: emustats.TokensPerMinute},
		{name: "tokens per day", opts: limited(bedrocktest.Limits{TokensPerMinute: 1000, TokensPerDay: -1}), calls: 1,
			kind: invoke.Throttle, reason: invoke.TokensPerDay, code: "ThrottlingException", status: 429, throttle: emustats.TokensPerDay},
		{name: "requests per minute", opts: limited(bedrocktest.Limits{TokensPerMinute: 100_000, RequestsPerMinute: 1}), calls: 2,
			kind: invoke.Throttle, reason: invoke.Requests, code: "ThrottlingException", status: 429, throttle: emustats.RequestsPerMinute},
		{name: "service unavailable", opts: options(100_000, 5), faults: bedrocktest.Faults{ServiceUnavailable: 1}, calls: 1,
			kind: invoke.ServerError, code: "ServiceUnavailableException", status: 503},
		{name: "internal error", opts: options(100_000, 5), faults: bedrocktest.Faults{InternalError: 1}, calls: 1,
			kind: invoke.ServerError, code: "InternalServerException", status: 500},
		{name: "model not ready", opts: options(100_000, 5), faults: bedrocktest.Faults{ModelNotReady: 1}, calls: 1,
			kind: invoke.ModelNotReady, code: "ModelNotReadyException", status: 429},
		{name: "validation", opts: options(100_000, 5), calls: 1, in: converseInput("hi", 10_001),
			kind: invoke.ClientError, code: "ValidationException", status: 400},
		{name: "dropped connection", opts: options(100_000, 5), faults: bedrocktest.Faults{Drop: 1}, calls: 1,
			kind: invoke.Connection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Faults = tt.faults
			e := startEmulator(t, tt.opts)
			client := newClient(t, e.URL)
			in := tt.in
			if in == nil {
				in = converseInput("three word prompt", 8)
			}
			var err error
			for range tt.calls {
				_, err = client.Converse(ctxT(t), in)
			}
			o := invoke.Classify(err)
			if o.Kind != tt.kind || o.Reason != tt.reason || o.Code != tt.code || o.Status != tt.status {
				t.Errorf("Classify(%v) = {%v %v %q %d}, want {%v %v %q %d}", err,
					o.Kind, o.Reason, o.Code, o.Status, tt.kind, tt.reason, tt.code, tt.status)
			}
			if o.Err != err || o.Message == "" {
				t.Errorf("outcome carries err %v, message %q", o.Err, o.Message)
			}
			if tt.status != 0 && o.RequestID == "" {
				t.Errorf("no request id in %+v", o)
			}
			if got, want := e.Requests(), int64(tt.calls); got != want {
				t.Errorf("the server saw %d requests for %d calls: the client retried", got, want)
			}
			if tt.throttle != "" {
				s, _ := emustats.Get(t, e).Get(nova, "on-demand")
				if s.Throttled[tt.throttle] != 1 {
					t.Errorf("emulator throttles = %v, want one %s", s.Throttled, tt.throttle)
				}
			}
		})
	}
}

// TestDefaultSDKRetries checks the attempt counting above can fail: a client built
// without NopRetryer makes three attempts on a 503.
func TestDefaultSDKRetries(t *testing.T) {
	o := options(100_000, 5)
	o.Faults = bedrocktest.Faults{ServiceUnavailable: 1}
	e := startEmulator(t, o)
	client := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	if _, err := client.Converse(ctxT(t), converseInput("hi", 8)); err == nil {
		t.Fatal("Converse succeeded under a certain 503")
	}
	if got := e.Requests(); got != 3 {
		t.Errorf("default SDK client made %d attempts, want 3", got)
	}
}

// wireError is an httptest handler answering every request with a Bedrock error in
// Bedrock's restJson1 wire format: the HTTP status, the code in x-amzn-ErrorType, and a
// JSON body {"message": …}.
func wireError(status int, code, message string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := fmt.Sprintf(`{"message":%q}`, message)
		if code != "" {
			w.Header().Set("x-amzn-ErrorType", code+":http://internal.amazon.com/coral/com.amazon.bedrock/")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("x-amzn-RequestId", "7d2b1c8e-0000-4000-8000-000000000001")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// TestClassifyWireErrors classifies errors the emulator does not produce, answered in
// Bedrock's wire format by a plain HTTP server, through the real SDK.
func TestClassifyWireErrors(t *testing.T) {
	tests := []struct {
		status  int
		code    string
		message string
		kind    invoke.Kind
		reason  invoke.Reason
	}{
		{429, "ThrottlingException", "Too many tokens, please wait before trying again.", invoke.Throttle, invoke.Tokens},
		{429, "ThrottlingException", "Too many requests, please wait before trying again. You have sent too many requests. Wait before trying again.", invoke.Throttle, invoke.Requests},
		{429, "ThrottlingException", "Something new.", invoke.Throttle, invoke.Unknown},
		{403, "AccessDeniedException", "You don't have access to the model with the specified model ID.", invoke.ClientError, invoke.Unknown},
		{404, "ResourceNotFoundException", "Model not found.", invoke.ClientError, invoke.Unknown},
		{400, "ServiceQuotaExceededException", "quota exceeded", invoke.ClientError, invoke.Unknown},
		{424, "ModelErrorException", "The model failed.", invoke.ClientError, invoke.Unknown},
		{408, "ModelTimeoutException", "Model has timed out in processing the request.", invoke.Timeout, invoke.Unknown},
		{408, "RequestTimeout", "request timed out", invoke.Timeout, invoke.Unknown},
		{503, "ServiceUnavailableException", "Too many connections, please wait before trying again.", invoke.ServerError, invoke.Unknown},
		{502, "", "<html>Bad Gateway</html>", invoke.ServerError, invoke.Unknown},
		{504, "", "gateway timeout", invoke.ServerError, invoke.Unknown},
		{429, "TooManyRequestsException", "Too many tokens, slow down", invoke.Throttle, invoke.Tokens},
		{400, "SomethingNewException", "new", invoke.ClientError, invoke.Unknown},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.code), func(t *testing.T) {
			srv := httptest.NewServer(wireError(tt.status, tt.code, tt.message))
			t.Cleanup(srv.Close)
			client := newClient(t, srv.URL)
			_, err := client.Converse(ctxT(t), converseInput("hi", 8))
			o := invoke.Classify(err)
			if o.Kind != tt.kind || o.Reason != tt.reason || o.Status != tt.status {
				t.Errorf("Classify(%v) = {%v %v %d}, want {%v %v %d}", err, o.Kind, o.Reason, o.Status, tt.kind, tt.reason, tt.status)
			}
			if tt.code != "" && (o.Code != tt.code || o.Message != tt.message) {
				t.Errorf("code, message = %q, %q, want %q, %q", o.Code, o.Message, tt.code, tt.message)
			}
			if o.RequestID != "7d2b1c8e-0000-4000-8000-000000000001" {
				t.Errorf("request id = %q", o.RequestID)
			}
		})
	}
}

func TestClassifyTransport(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		client := newClient(t, "http://"+addr)
		_, err = client.Converse(ctxT(t), converseInput("hi", 8))
		if o := invoke.Classify(err); o.Kind != invoke.Connection || !o.Kind.Retryable() {
			t.Errorf("Classify(%v) = %v, want connection", err, o.Kind)
		}
	})

	slow := options(100_000, 5)
	slow.Latency = bedrocktest.Latency{TimeToFirstToken: 20 * time.Second, PerOutputToken: -1}
	e := startEmulator(t, slow)
	client := newClient(t, e.URL)

	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxT(t))
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := client.Converse(ctx, converseInput("hi", 8))
		if o := invoke.Classify(err); o.Kind != invoke.Canceled || o.Kind.Retryable() {
			t.Errorf("Classify(%v) = %v, want canceled", err, o.Kind)
		}
	})
	t.Run("attempt deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
		defer cancel()
		_, err := client.Converse(ctx, converseInput("hi", 8))
		if o := invoke.Classify(err); o.Kind != invoke.Timeout || !o.Kind.Retryable() {
			t.Errorf("Classify(%v) = %v, want timeout", err, o.Kind)
		}
	})
}

func TestClassifyPlainErrors(t *testing.T) {
	tests := []struct {
		err  error
		kind invoke.Kind
	}{
		{nil, invoke.OK},
		{context.Canceled, invoke.Canceled},
		{fmt.Errorf("op: %w", context.DeadlineExceeded), invoke.Timeout},
		{invoke.ErrStreamClosed, invoke.Canceled},
		{fmt.Errorf("decode event: %w", net.ErrClosed), invoke.Connection},
		{errors.New("something else"), invoke.Other},
	}
	for _, tt := range tests {
		if got := invoke.Classify(tt.err).Kind; got != tt.kind {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.kind)
		}
	}
}

func TestKindAndReasonNames(t *testing.T) {
	kinds := []struct {
		k         invoke.Kind
		name      string
		retryable bool
	}{
		{invoke.OK, "ok", false},
		{invoke.Throttle, "throttle", true},
		{invoke.ServerError, "server_error", true},
		{invoke.ModelNotReady, "model_not_ready", true},
		{invoke.Timeout, "timeout", true},
		{invoke.ClientError, "client_error", false},
		{invoke.Canceled, "canceled", false},
		{invoke.Connection, "connection", true},
		{invoke.Other, "other", false},
		{invoke.Kind(42), "kind(42)", false},
	}
	for _, tt := range kinds {
		if got := tt.k.String(); got != tt.name {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.k), got, tt.name)
		}
		if got := tt.k.Retryable(); got != tt.retryable {
			t.Errorf("%v.Retryable() = %v, want %v", tt.k, got, tt.retryable)
		}
	}
	reasons := []struct {
		msg  string
		r    invoke.Reason
		name string
	}{
		{"Too many tokens, please wait before trying again.", invoke.Tokens, "tokens"},
		{"Too many tokens per day, please wait before trying again.", invoke.TokensPerDay, "tokens_per_day"},
		{"Too many requests, please wait before trying again.", invoke.Requests, "requests"},
		{"Rate exceeded", invoke.Unknown, "unknown"},
	}
	for _, tt := range reasons {
		r := invoke.ParseReason(tt.msg)
		if r != tt.r || r.String() != tt.name {
			t.Errorf("ParseReason(%q) = %v (%s), want %v (%s)", tt.msg, r, r, tt.r, tt.name)
		}
	}
}

// TestClassSameFailure makes the same failing call twice through the real SDK: the two
// errors' texts differ (each names its own request id) but their classes are equal, and
// differ from another failure's.
func TestClassSameFailure(t *testing.T) {
	o := options(100_000, 5)
	o.Faults = bedrocktest.Faults{ModelNotReady: 1}
	client := newClient(t, startEmulator(t, o).URL)
	_, err1 := client.Converse(ctxT(t), converseInput("one", 8))
	_, err2 := client.Converse(ctxT(t), converseInput("two", 8))
	if err1 == nil || err2 == nil {
		t.Fatalf("calls under a certain ModelNotReady fault succeeded: %v, %v", err1, err2)
	}
	if err1.Error() == err2.Error() {
		t.Fatalf("both errors read %q: the test needs texts that differ", err1)
	}
	wrapped := fmt.Errorf("chunk 2 of 3: %w", err2)
	if got, want := invoke.Class(wrapped), invoke.Class(err1); got != want {
		t.Errorf("classes %q and %q differ for the same failure", got, want)
	}
	if got, want := invoke.Class(err1), "ModelNotReadyException (HTTP 429)"; got != want {
		t.Errorf("Class = %q, want %q", got, want)
	}
	_, other := newClient(t, startEmulator(t, options(100_000, 5)).URL).Converse(ctxT(t), converseInput("hi", 10_001))
	if got := invoke.Class(other); got != "ValidationException (HTTP 400)" {
		t.Errorf("Class of a validation error = %q", got)
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.Canceled, "canceled"},
		{fmt.Errorf("document a.txt: %w", errors.New("template: no field X")), "template: no field X"},
	} {
		if got := invoke.Class(tt.err); got != tt.want {
			t.Errorf("Class(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
