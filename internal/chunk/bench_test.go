package chunk

import (
	"os"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// largeContract is the largest contract of the shared data set (338 KB), read only when
// present.
const largeContract = "/work/shared/data/contracts/MANUFACTURERSSERVICESLTD_06_05_2000-EX-10.14-OUTSOURCING_AGREEMENT.txt"

// BenchmarkSplit splits the largest sample contract (155 KB) and, when present, the
// largest of the shared data set, into 2,000-token chunks with a 200-token overlap. The
// anchor it competes with is one Count of the whole text: Split's floor.
func BenchmarkSplit(b *testing.B) {
	texts := map[string]string{"sample-155KB": contracts(b)["IMMUNOMEDICSINC_08_07_2019-EX-10.1-PROMOTION_AGREEMENT.txt"]}
	if data, err := os.ReadFile(largeContract); err == nil {
		texts["shared-338KB"] = string(data)
	}
	count := estimate.Base().Count
	for name, text := range texts {
		b.Run(name+"/count", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				count(text)
			}
		})
		b.Run(name+"/split", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			cfg := Config{MaxTokens: 2000, OverlapTokens: 200, Count: count}
			for b.Loop() {
				if _, err := Split(text, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if len(texts) == 1 {
		b.Log("the 338 KB contract is not present; benchmarked the sample only")
	}
}
