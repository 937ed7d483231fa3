package quota_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/quota/quotatest"
)

func TestMemoryConformance(t *testing.T) {
	quotatest.Run(t, func(*testing.T) quota.Store { return quota.NewMemory() })
}
