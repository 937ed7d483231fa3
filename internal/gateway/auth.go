package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/wire"
)

// The errors AWS answers authentication failures with; the SDKs raise them as their
// usual exceptions (botocore's ClientError with these codes, the Go SDK's smithy
// GenericAPIError).
var (
	unrecognizedClient = wire.ErrorCode{Name: "UnrecognizedClientException", Status: http.StatusForbidden}
	invalidSignature   = wire.ErrorCode{Name: "InvalidSignatureException", Status: http.StatusForbidden}
)

// Messages of the authentication failures. None quotes a secret, a token or the
// signature the gateway computed.
const (
	msgUnknownKey = "The security token included in the request is invalid."
	msgRevoked    = "The gateway key used in the request has been revoked."
	msgAWSKey     = "This is a Tollgate gateway, not AWS: sign with a gateway key, not an AWS access key. Create one with \"tollgate keys create --tenant NAME\" and export the AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (or AWS_BEARER_TOKEN_BEDROCK) it prints."
	msgNoAuth     = "Missing Authentication Token: sign the request with a gateway key (SigV4) or send Authorization: Bearer with a gateway token (\"tollgate keys create --tenant NAME\" prints both)."
	msgBadBearer  = "The bearer token included in the request is invalid."
)

// authFailure is a refused request: the AWS error to answer with, and the reason to log
// and count (a short word, free of anything the caller sent).
type authFailure struct {
	code    wire.ErrorCode
	message string
	reason  string
}

func (f *authFailure) Error() string { return f.reason + ": " + f.message }

// Caller is an authenticated caller: the key it used and the tenant that key belongs to.
type Caller struct {
	// KeyID is the gateway key id the request was signed with or whose token it carried.
	KeyID string
	// Tenant names the tenant the call counts against.
	Tenant string
	// Limits are the tenant's limits and rights as configured.
	Limits Tenant
	rules  *tenantRules
}

// claim is a request's identity as its Authorization header states it, found in the
// configuration but (for SigV4) not yet verified against the body.
type claim struct {
	ident  identity
	auth   sigV4Auth
	bearer bool
}

// identify checks r's Authorization header against keys at time now, up to what can be
// checked without the body: a bearer token is verified completely, a SigV4 header is
// parsed and its key looked up. Refusing unknown callers before reading the body keeps
// them from making the gateway read large bodies. reloadErr is a failed configuration
// reload to log.
func identify(keys *Keys, r *http.Request, now time.Time) (cl claim, reloadErr error, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return cl, nil, &authFailure{unrecognizedClient, msgNoAuth, "unsigned"}
	}
	var id, token string
	if tok, ok := cutPrefixFold(h, "Bearer "); ok {
		token = strings.TrimSpace(tok)
		if strings.HasPrefix(token, "ABSK") {
			// An Amazon Bedrock API key.
			return cl, nil, &authFailure{unrecognizedClient, msgAWSKey, "aws_key"}
		}
		if id, ok = bearerKeyID(token); !ok {
			return cl, nil, &authFailure{unrecognizedClient, msgBadBearer, "bad_bearer"}
		}
		cl.bearer = true
	} else {
		cl.auth, err = parseSigV4(h)
		if err != nil {
			return cl, nil, &authFailure{invalidSignature, err.Error() + ".", "malformed"}
		}
		id = cl.auth.AccessKeyID
	}
	if strings.HasPrefix(id, "AKIA") || strings.HasPrefix(id, "ASIA") {
		return cl, nil, &authFailure{unrecognizedClient, msgAWSKey, "aws_key"}
	}
	ident, res, reloadErr := keys.lookup(id, now)
	switch res {
	case keyUnknown:
		return cl, reloadErr, &authFailure{unrecognizedClient, msgUnknownKey, "unknown_key"}
	case keyRevoked:
		return cl, reloadErr, &authFailure{unrecognizedClient, msgRevoked, "revoked"}
	}
	if cl.bearer && subtle.ConstantTimeCompare([]byte(token), []byte(ident.creds.BearerToken)) != 1 {
		return cl, reloadErr, &authFailure{unrecognizedClient, msgBadBearer, "bad_bearer"}
	}
	cl.ident = ident
	return cl, reloadErr, nil
}

// verify completes the check of a SigV4 claim over the request's body and returns the
// caller.
func (cl claim) verify(r *http.Request, body []byte, now time.Time) (Caller, error) {
	if !cl.bearer {
		sum := sha256.Sum256(body)
		if err := verifySigV4(r, cl.auth, cl.ident.creds.SecretAccessKey, sum[:], now); err != nil {
			var se *sigError
			if !errors.As(err, &se) {
				return Caller{}, &authFailure{invalidSignature, "The request signature could not be verified.", "bad_signature"}
			}
			reason := "bad_signature"
			if strings.HasPrefix(se.msg, "Signature expired") || strings.HasPrefix(se.msg, "Signature not yet current") {
				reason = "clock_skew"
			}
			return Caller{}, &authFailure{invalidSignature, se.msg, reason}
		}
	}
	id := cl.ident
	return Caller{KeyID: id.keyID, Tenant: id.tenant, Limits: id.rules.Tenant, rules: id.rules}, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}
