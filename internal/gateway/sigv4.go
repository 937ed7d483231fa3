package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The parts of AWS Signature Version 4 the gateway verifies
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	sigV4Service   = "bedrock"
	sigV4Request   = "aws4_request"
	amzDateLayout  = "20060102T150405Z"
	scopeDate      = "20060102"
	// maxSkew is how far a request's X-Amz-Date may be from the gateway's clock; AWS
	// refuses signatures older or newer than 15 minutes, which also bounds replays.
	maxSkew = 15 * time.Minute
)

// sigV4Auth is a parsed SigV4 Authorization header.
type sigV4Auth struct {
	AccessKeyID   string
	Date          string // the scope's date, YYYYMMDD
	Region        string
	Service       string
	SignedHeaders []string // lower case, as the caller listed them
	Signature     []byte
}

// errMalformedAuth is wrapped by every parse failure of an Authorization header.
var errMalformedAuth = errors.New("malformed Authorization header")

// parseSigV4 reads "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/bedrock/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=hex". The components may come in any order,
// separated by commas with optional spaces, as the SDKs write them.
func parseSigV4(header string) (sigV4Auth, error) {
	var a sigV4Auth
	rest, ok := strings.CutPrefix(header, sigV4Algorithm+" ")
	if !ok {
		return a, fmt.Errorf("%w: want %s", errMalformedAuth, sigV4Algorithm)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("%w: component without '='", errMalformedAuth)
		}
		switch name {
		case "Credential":
			cred, haveCred = value, true
		case "SignedHeaders":
			signed, haveSigned = value, true
		case "Signature":
			sig, haveSig = value, true
		default:
			return a, fmt.Errorf("%w: unknown component %q", errMalformedAuth, truncate(name, 32))
		}
	}
	if !haveCred || !haveSigned || !haveSig {
		return a, fmt.Errorf("%w: want Credential, SignedHeaders and Signature", errMalformedAuth)
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || scope[2] == "" {
		return a, fmt.Errorf("%w: credential scope must be KEY/DATE/REGION/SERVICE/aws4_request", errMalformedAuth)
	}
	if scope[4] != sigV4Request {
		return a, fmt.Errorf("%w: credential scope must end with %s", errMalformedAuth, sigV4Request)
	}
	if _, err := time.Parse(scopeDate, scope[1]); err != nil {
		return a, fmt.Errorf("%w: credential scope date must be YYYYMMDD", errMalformedAuth)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if signed == "" {
		return a, fmt.Errorf("%w: SignedHeaders is empty", errMalformedAuth)
	}
	a.SignedHeaders = strings.Split(signed, ";")
	for i, h := range a.SignedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return a, fmt.Errorf("%w: SignedHeaders must be lower-case names separated by ';'", errMalformedAuth)
		}
		if i > 0 && a.SignedHeaders[i-1] >= h {
			return a, fmt.Errorf("%w: SignedHeaders must be sorted and distinct", errMalformedAuth)
		}
	}
	b, err := hex.DecodeString(sig)
	if err != nil || len(b) != sha256.Size {
		return a, fmt.Errorf("%w: Signature must be 64 hex digits", errMalformedAuth)
	}
	a.Signature = b
	return a, nil
}

// sigError is a signature that does not verify; its message is safe to show the caller
// (it never contains the secret or the expected signature).
type sigError struct{ msg string }

func (e *sigError) Error() string { return e.msg }

// verifySigV4 checks that auth is a signature of r (whose body hashes to bodySHA256)
// made with secret at a time within maxSkew of now. It returns a *sigError for a
// signature that does not verify.
func verifySigV4(r *http.Request, auth sigV4Auth, secret string, bodySHA256 []byte, now time.Time) error {
	if auth.Service != sigV4Service {
		return &sigError{fmt.Sprintf("Credential should be scoped to correct service: '%s'.", sigV4Service)}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return &sigError{"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	signedAt, err := time.Parse(amzDateLayout, amzDate)
	if err != nil {
		return &sigError{"X-Amz-Date must be in the form YYYYMMDDTHHMMSSZ."}
	}
	if amzDate[:8] != auth.Date {
		return &sigError{"Credential should be scoped to a valid date matching X-Amz-Date."}
	}
	nowStr := now.UTC().Format(amzDateLayout)
	switch d := now.Sub(signedAt); {
	case d > maxSkew:
		return &sigError{fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-maxSkew).UTC().Format(amzDateLayout), nowStr)}
	case d < -maxSkew:
		return &sigError{fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(maxSkew).UTC().Format(amzDateLayout), nowStr)}
	}
	// The JavaScript SDK signs HTTP/2 requests with the :authority pseudo-header in
	// place of Host; either binds the signature to the gateway's address.
	if !contains(auth.SignedHeaders, "host") && !contains(auth.SignedHeaders, ":authority") {
		return &sigError{"'Host' must be a signed header."}
	}
	payloadHash := hex.EncodeToString(bodySHA256)
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return &sigError{"The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	creq := canonicalRequest(r, auth.SignedHeaders, payloadHash)
	sum := sha256.Sum256([]byte(creq))
	scope := auth.Date + "/" + auth.Region + "/" + auth.Service + "/" + sigV4Request
	stringToSign := sigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := signingKeys.get(secret, auth.Date, auth.Region, auth.Service)
	want := hmacSHA256(key, []byte(stringToSign))
	if !hmac.Equal(want, auth.Signature) {
		return &sigError{"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	}
	return nil
}

// canonicalRequest builds the SigV4 canonical request of r over the headers the caller
// signed. The URI is the path as it arrived (already escaped once by the SDK: a model
// id's ':' is %3A) escaped once more, so the %3A is signed as %253A; that is what every
// AWS SDK does for services other than S3.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := requestPath(r)
	b.WriteString(escape(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// requestPath is the path exactly as the caller sent it (RequestURI without the query),
// so that the canonical URI is built from the bytes the caller signed rather than from
// Go's re-encoding of the decoded path.
func requestPath(r *http.Request) string {
	p, _, _ := strings.Cut(r.RequestURI, "?")
	if !strings.HasPrefix(p, "/") {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// headerValue is the canonical value of one signed header: its values joined by commas,
// each trimmed with inner runs of spaces collapsed. Go moves Host (HTTP/2's :authority)
// out of the header map and may drop Content-Length from it, so those come from the
// request's fields.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host", ":authority":
		return r.Host
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return collapseSpaces(v[0])
		}
		if r.ContentLength >= 0 {
			return strconv.FormatInt(r.ContentLength, 10)
		}
		return ""
	}
	vals := r.Header.Values(name)
	for i, v := range vals {
		vals[i] = collapseSpaces(v)
	}
	return strings.Join(vals, ",")
}

// collapseSpaces trims s and replaces every run of spaces inside it with one space.
func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	prev := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' && prev {
			continue
		}
		prev = c == ' '
		b.WriteByte(c)
	}
	return b.String()
}

// canonicalQuery sorts the query's parameters by name, then value, each escaped with
// every byte outside A-Za-z0-9-._~ as %XX. Bedrock Runtime's operations send none; a
// query that does not parse is signed as nothing, which then fails to verify.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, escape(k, true)+"="+escape(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// escape percent-encodes every byte of s outside A-Za-z0-9-._~ (and '/' unless
// encodeSlash), with upper-case hex, as SigV4 requires.
func escape(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && !encodeSlash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// signingKey derives the SigV4 signing key of one day, region and service.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(sigV4Request))
}

// signingKeyCache keeps derived signing keys: a key is the same for every request of a
// day, region and service signed with one secret, and deriving it takes four HMACs.
type signingKeyCache struct {
	mu   sync.RWMutex
	keys map[string][]byte // by secret, date, region and service
}

// maxCachedSigningKeys bounds the cache; when full it starts over, which costs each
// caller one derivation.
const maxCachedSigningKeys = 4096

var signingKeys = &signingKeyCache{keys: map[string][]byte{}}

func (c *signingKeyCache) get(secret, date, region, service string) []byte {
	id := secret + "\x00" + date + "\x00" + region + "\x00" + service
	c.mu.RLock()
	k, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		return k
	}
	k = signingKey(secret, date, region, service)
	c.mu.Lock()
	if len(c.keys) >= maxCachedSigningKeys {
		clear(c.keys)
	}
	c.keys[id] = k
	c.mu.Unlock()
	return k
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// truncate shortens caller-supplied text quoted in an error.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
