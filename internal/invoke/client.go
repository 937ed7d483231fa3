package invoke

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"
)

// NewClient returns a Bedrock Runtime client for one target: region (empty keeps
// cfg.Region), endpoint as the BaseEndpoint (empty keeps the SDK's normal resolution,
// including AWS_ENDPOINT_URL_BEDROCK_RUNTIME) and creds (nil keeps cfg.Credentials,
// the default chain when cfg came from config.LoadDefaultConfig).
//
// The client makes exactly one HTTP attempt per call (aws.NopRetryer, whatever
// cfg.RetryMaxAttempts says) and sends requests through cfg.HTTPClient (or the SDK's
// default one) wrapped so that request bodies reach the transport without WriteTo,
// which avoids smithy-go's closed-connection bug (see the package documentation), and
// so that an attempt gives up when its response has not begun within the timeout its
// context carries (WithAttemptTimeout).
// Its protocol decodes every stream event with a codec of its own, so that concurrent
// streams on the client do not race on the SDK's shared decoder. It is safe for
// concurrent use, streams included.
func NewClient(cfg aws.Config, region, endpoint string, creds aws.CredentialsProvider) *bedrockruntime.Client {
	return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		if region != "" {
			o.Region = region
		}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if creds != nil {
			o.Credentials = creds
		}
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0
		o.RetryMode = ""
		next := o.HTTPClient
		if next == nil {
			next = awshttp.NewBuildableClient()
		}
		o.HTTPClient = plainBodyClient{next: next}
		if p, ok := o.Protocol.(*restjson1.Protocol); ok {
			o.Protocol = streamSafeProtocol{p}
		}
	})
}

// streamSafeProtocol is the client's restjson1 protocol with one change: each event
// of a stream is decoded by a protocol (and so an event-stream codec) of its own, so
// that concurrent streams on one client share no decoder state (SDK note 1 in the
// package documentation). A fresh codec per event also means no decoded event can
// alias a buffer another event reuses.
type streamSafeProtocol struct {
	*restjson1.Protocol
}

// DeserializeEventMessage decodes one event from r with a fresh restjson1 codec.
func (streamSafeProtocol) DeserializeEventMessage(schema *smithy.Schema, types *smithy.TypeRegistry, r io.Reader) (smithy.Deserializable, error) {
	return restjson1.New(nil).DeserializeEventMessage(schema, types, r)
}

// PrivateCodec is a per-call option of the bedrockruntime client that gives the call a
// protocol, and so an event-stream decoder, of its own. Streams on one shared client
// built by the SDK race on the client's single decoder without it (see the package
// documentation). Clients from NewClient do not need it: their protocol already
// decodes each event with a codec of its own.
func PrivateCodec(o *bedrockruntime.Options) {
	o.Protocol = restjson1.New(nil)
}

// ConverseStream calls client.ConverseStream with PrivateCodec added to optFns, so
// that it is safe to run concurrently with other streams on the same client even when
// the client was not built by NewClient.
func ConverseStream(ctx context.Context, client *bedrockruntime.Client, in *bedrockruntime.ConverseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.ConverseStreamOutput, error) {
	return client.ConverseStream(ctx, in, withPrivateCodec(optFns)...)
}

// InvokeStream calls client.InvokeModelWithResponseStream with PrivateCodec added to
// optFns, so that it is safe to run concurrently with other streams on the same client
// even when the client was not built by NewClient.
func InvokeStream(ctx context.Context, client *bedrockruntime.Client, in *bedrockruntime.InvokeModelWithResponseStreamInput, optFns ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelWithResponseStreamOutput, error) {
	return client.InvokeModelWithResponseStream(ctx, in, withPrivateCodec(optFns)...)
}

// withPrivateCodec returns optFns followed by PrivateCodec, in a new slice (the
// caller's backing array is never written).
func withPrivateCodec(optFns []func(*bedrockruntime.Options)) []func(*bedrockruntime.Options) {
	return append(slices.Clip(optFns), PrivateCodec)
}

// plainBodyClient sends each request with its body wrapped in a plainBody, on a
// shallow copy of the request (the caller's request is not modified).
type plainBodyClient struct {
	next aws.HTTPClient
}

// Do implements aws.HTTPClient, within the attempt timeout of the request's context
// (WithAttemptTimeout).
func (c plainBodyClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return doWithin(c.next, req)
	}
	r := new(http.Request)
	*r = *req
	r.Body = plainBody{req.Body}
	if req.ContentLength > 0 && req.ContentLength <= inMemoryBody {
		// Read into memory: net/http then writes the headers and the body together, in
		// one system call, where it flushes the headers first for a body it cannot
		// tell is in memory.
		b := make([]byte, req.ContentLength)
		if _, err := io.ReadFull(req.Body, b); err != nil {
			return nil, fmt.Errorf("read the request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		_ = req.Body.Close()
	}
	return doWithin(c.next, r)
}

// inMemoryBody is the longest request body plainBodyClient reads into memory before
// sending it.
const inMemoryBody = 256 << 10

// plainBody exposes only Read and Close of a request body: net/http's transport then
// copies it with Read and never calls a WriteTo that smithy-go may have broken.
type plainBody struct {
	rc io.ReadCloser
}

func (b plainBody) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b plainBody) Close() error               { return b.rc.Close() }
