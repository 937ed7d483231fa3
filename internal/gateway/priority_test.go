package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/wire"
	"github.com/tollgate-dev/tollgate/quota"
)

func TestGatewayPriority(t *testing.T) {
	rules := &tenantRules{defaultPriority: quota.Low, maxPriority: quota.High}
	header := func(v string) http.Header { return http.Header{"X-Tollgate-Priority": {v}} }
	cases := []struct {
		name    string
		op      wire.Operation
		h       http.Header
		body    string
		want    quota.Priority
		wantErr string
	}{
		{"converse metadata", wire.Converse, nil, `{"requestMetadata":{"priority":"HIGH"}}`, quota.High, ""},
		{"converse-stream metadata", wire.ConverseStream, nil, `{"requestMetadata":{"priority":"background"}}`, quota.Background, ""},
		{"capped at the maximum", wire.Converse, nil, `{"requestMetadata":{"priority":"critical"}}`, quota.High, ""},
		{"default", wire.Converse, nil, `{"messages":[]}`, quota.Low, ""},
		{"metadata wins over header", wire.Converse, header("low"), `{"requestMetadata":{"priority":"normal"}}`, quota.Normal, ""},
		{"converse header", wire.Converse, header("high"), `{"requestMetadata":{"team":"x"}}`, quota.High, ""},
		{"invoke header", wire.InvokeModel, header(" Normal "), `{"requestMetadata":{"priority":"high"}}`, quota.Normal, ""},
		{"invoke ignores the model body", wire.InvokeModel, nil, `{"requestMetadata":{"priority":"high"}}`, quota.Low, ""},
		{"not JSON left to the operation", wire.Converse, nil, `{`, quota.Low, ""},
		{"invalid metadata", wire.Converse, nil, `{"requestMetadata":{"priority":"urgent"}}`, 0, `requestMetadata.priority "urgent" is not a priority: use one of critical, high, normal, low, background`},
		{"empty metadata", wire.Converse, nil, `{"requestMetadata":{"priority":""}}`, 0, "is not a priority"},
		{"non-string metadata", wire.Converse, nil, `{"requestMetadata":{"priority":1}}`, 0, "must be a string"},
		{"invalid header", wire.InvokeModel, header("top"), ``, 0, `X-Tollgate-Priority "top" is not a priority`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				h = http.Header{}
			}
			got, err := callPriority(tc.op, h, []byte(tc.body), rules)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("callPriority = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
