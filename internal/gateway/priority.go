package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/tollgate-dev/tollgate/internal/quotatext"
	"github.com/tollgate-dev/tollgate/internal/wire"
	"github.com/tollgate-dev/tollgate/quota"
)

// HeaderPriority names a call's priority class on any operation. Converse and
// ConverseStream can carry it instead in the standard requestMetadata field
// ({"requestMetadata": {"priority": "high"}}), which every SDK can set without custom
// headers.
const HeaderPriority = "X-Tollgate-Priority"

// priorityMetadataKey is the requestMetadata entry that names a Converse call's class.
const priorityMetadataKey = "priority"

// priorityError is an invalid priority; its message names the valid values.
type priorityError struct{ msg string }

func (e *priorityError) Error() string { return e.msg }

// callPriority reads the class a call asks for — Converse's requestMetadata.priority,
// else the X-Tollgate-Priority header — defaulting to the tenant's default and lowered
// to the tenant's maximum. A body that is not JSON is left to the operation to reject;
// the call then gets the default class here.
func callPriority(op wire.Operation, h http.Header, body []byte, rules *tenantRules) (quota.Priority, error) {
	var req struct {
		RequestMetadata map[string]any `json:"requestMetadata"`
	}
	if op == wire.Converse || op == wire.ConverseStream {
		if json.Unmarshal(body, &req) != nil {
			req.RequestMetadata = nil
		}
	}
	return priorityOf(req.RequestMetadata, h, rules)
}

// priorityOf is callPriority of a Converse body's requestMetadata (nil: none, or not
// Converse).
func priorityOf(meta map[string]any, h http.Header, rules *tenantRules) (quota.Priority, error) {
	asked, where := "", ""
	if v, ok := meta[priorityMetadataKey]; ok {
		s, isString := v.(string)
		if !isString {
			return 0, &priorityError{"requestMetadata.priority must be a string: one of critical, high, normal, low, background."}
		}
		asked, where = s, "requestMetadata.priority"
	}
	if asked == "" && where == "" {
		if v := h.Values(HeaderPriority); len(v) > 0 {
			asked, where = v[0], HeaderPriority
		}
	}
	if where == "" {
		return rules.defaultPriority, nil
	}
	p, err := quotatext.ParsePriority(asked)
	if err != nil {
		return 0, &priorityError{fmt.Sprintf("%s %q is not a priority: use one of critical, high, normal, low, background.", where, truncate(asked, 32))}
	}
	return min(p, rules.maxPriority), nil
}
