package bedrocktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tollgate-dev/tollgate/catalog"
	"github.com/tollgate-dev/tollgate/internal/wire"
)

// The Service Quotas API (awsJson1_1): POST / with X-Amz-Target naming the operation.
const (
	quotasTargetPrefix = "ServiceQuotasV20190624."
	quotasServiceCode  = "bedrock"
	quotasMaxResults   = 100
	quotasAccount      = "000000000000"
)

// serviceQuota is the ServiceQuota shape of the Service Quotas API.
type serviceQuota struct {
	ServiceCode         string      `json:"ServiceCode"`
	ServiceName         string      `json:"ServiceName"`
	QuotaArn            string      `json:"QuotaArn"`
	QuotaCode           string      `json:"QuotaCode"`
	QuotaName           string      `json:"QuotaName"`
	Value               float64     `json:"Value"`
	Unit                string      `json:"Unit"`
	Adjustable          bool        `json:"Adjustable"`
	GlobalQuota         bool        `json:"GlobalQuota"`
	QuotaAppliedAtLevel string      `json:"QuotaAppliedAtLevel"`
	Period              quotaPeriod `json:"Period"`
}

type quotaPeriod struct {
	PeriodValue int    `json:"PeriodValue"`
	PeriodUnit  string `json:"PeriodUnit"`
}

// quotasRequest holds the members of ListServiceQuotas, GetServiceQuota and their
// AWS-default variants that the emulator reads.
type quotasRequest struct {
	ServiceCode string `json:"ServiceCode"`
	QuotaCode   string `json:"QuotaCode"`
	MaxResults  *int   `json:"MaxResults"`
	NextToken   string `json:"NextToken"`
}

// serviceQuotas lists the quotas of the models served: one entry per code, in model and
// scope order; a code shared by several scopes (a TPD quota "doubled for cross-region
// calls") is listed with the value of its first scope.
func (h *Handler) serviceQuotas() []serviceQuota {
	var out []serviceQuota
	seen := map[string]bool{}
	add := func(code, name string, value int64, unit string) {
		if code == "" || seen[code] || value == 0 {
			return
		}
		seen[code] = true
		out = append(out, serviceQuota{
			ServiceCode: quotasServiceCode, ServiceName: "Amazon Bedrock",
			QuotaArn:  fmt.Sprintf("arn:aws:servicequotas:%s:%s:%s/%s", h.opts.Region, quotasAccount, quotasServiceCode, code),
			QuotaCode: code, QuotaName: name, Value: float64(max(value, 0)), Unit: "None",
			QuotaAppliedAtLevel: "ACCOUNT", Period: quotaPeriod{1, unit},
		})
	}
	for _, m := range h.served {
		for _, s := range catalog.Scopes() {
			l, ok := m.limits[s]
			if !ok {
				continue
			}
			prefix := map[catalog.Scope]string{catalog.OnDemand: "On-demand", catalog.CrossRegion: "Cross-region",
				catalog.Global: "Global cross-region"}[s]
			add(l.codes[limitTPM], prefix+" model inference tokens per minute for "+m.name, l.TokensPerMinute, "MINUTE")
			add(l.codes[limitRPM], prefix+" model inference requests per minute for "+m.name, l.RequestsPerMinute, "MINUTE")
			tpd, listed := "Model invocation max tokens per day for "+m.name+" (doubled for cross-region calls)", l.TokensPerDay
			if l.doubled {
				listed = l.TokensPerDay / 2 // AWS lists the undoubled value under this name
			}
			if s == catalog.Global {
				tpd = "Global cross-region model inference tokens per day for " + m.name
			}
			add(l.codes[limitTPD], tpd, listed, "DAY")
		}
	}
	return out
}

// serveQuotas answers ListServiceQuotas, GetServiceQuota, ListAWSDefaultServiceQuotas
// and GetAWSDefaultServiceQuota. The defaults are the configured values.
func (h *Handler) serveQuotas(w http.ResponseWriter, r *http.Request) {
	id := h.requestID(h.seq.Add(1))
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), quotasTargetPrefix)
	if !ok || r.Method != http.MethodPost {
		quotasError(w, id, "UnknownOperationException", "unknown operation "+r.Header.Get("X-Amz-Target"))
		return
	}
	bd := h.readBody(w, r, 1<<20, func(code wire.ErrorCode, msg string) { quotasErrorStatus(w, id, code, msg) })
	if bd == nil {
		return
	}
	var req quotasRequest
	var err error
	if len(bytes.TrimSpace(bd.data)) > 0 {
		err = json.Unmarshal(bd.data, &req)
	}
	bd.release()
	if err != nil {
		quotasError(w, id, "IllegalArgumentException", "the request body is not valid JSON: "+err.Error())
		return
	}
	if req.ServiceCode != quotasServiceCode {
		quotasError(w, id, "NoSuchResourceException", fmt.Sprintf("the emulator serves service code %q only, not %q", quotasServiceCode, req.ServiceCode))
		return
	}
	quotas := h.serviceQuotas()
	switch op {
	case "GetServiceQuota", "GetAWSDefaultServiceQuota":
		i := slices.IndexFunc(quotas, func(q serviceQuota) bool { return q.QuotaCode == req.QuotaCode })
		if i < 0 {
			quotasError(w, id, "NoSuchResourceException", fmt.Sprintf("no quota %q for service %q", req.QuotaCode, quotasServiceCode))
			return
		}
		quotasJSON(w, id, map[string]any{"Quota": quotas[i]})
	case "ListServiceQuotas", "ListAWSDefaultServiceQuotas":
		h.listQuotas(w, id, req, quotas)
	default:
		quotasError(w, id, "UnknownOperationException", "unknown operation "+op)
	}
}

func (h *Handler) listQuotas(w http.ResponseWriter, id string, req quotasRequest, quotas []serviceQuota) {
	if req.QuotaCode != "" {
		quotas = slices.DeleteFunc(quotas, func(q serviceQuota) bool { return q.QuotaCode != req.QuotaCode })
	}
	limit := quotasMaxResults
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > quotasMaxResults {
			quotasError(w, id, "IllegalArgumentException", fmt.Sprintf("MaxResults %d must be between 1 and %d", *req.MaxResults, quotasMaxResults))
			return
		}
		limit = *req.MaxResults
	}
	start := 0
	if req.NextToken != "" {
		n, err := strconv.Atoi(req.NextToken)
		if err != nil || n < 0 || n > len(quotas) {
			quotasError(w, id, "InvalidPaginationTokenException", "invalid NextToken "+strconv.Quote(req.NextToken))
			return
		}
		start = n
	}
	end := min(start+limit, len(quotas))
	resp := map[string]any{"Quotas": quotas[start:end]}
	if end < len(quotas) {
		resp["NextToken"] = strconv.Itoa(end)
	}
	quotasJSON(w, id, resp)
}

func quotasJSON(w http.ResponseWriter, id string, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set(wire.HeaderRequestID, id)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone
}

// quotasError answers an awsJson1_1 error: status 400, the code in __type and in the
// x-amzn-ErrorType header.
func quotasError(w http.ResponseWriter, id, code, message string) {
	quotasErrorStatus(w, id, wire.ErrorCode{Name: code, Status: http.StatusBadRequest}, message)
}

// quotasErrorStatus answers an awsJson1_1 error with the status of code.
func quotasErrorStatus(w http.ResponseWriter, id string, code wire.ErrorCode, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set(wire.HeaderRequestID, id)
	w.Header().Set(wire.HeaderErrorType, code.Name)
	w.WriteHeader(code.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code.Name, "message": message})
}
