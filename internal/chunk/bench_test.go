package chunk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/estimate"
)

// largeContract is the largest of the 60 CUAD contracts that
// internal/estimate/testdata/contracts/SOURCE.md lists (338 KB), read from the folder
// named by $TOLLGATE_CONTRACTS when it is set and holds it.
const largeContract = "MANUFACTURERSSERVICESLTD_06_05_2000-EX-10.14-OUTSOURCING_AGREEMENT.txt"

// BenchmarkSplit splits the largest sample contract (155 KB) and, when present, the
// largest of the 60-contract set, into 2,000-token chunks with a 200-token overlap. The
// anchor it competes with is one Count of the whole text: Split's floor.
func BenchmarkSplit(b *testing.B) {
	texts := map[string]string{"sample-155KB": contracts(b)["IMMUNOMEDICSINC_08_07_2019-EX-10.1-PROMOTION_AGREEMENT.txt"]}
	if dir := os.Getenv("TOLLGATE_CONTRACTS"); dir != "" {
		if data, err := os.ReadFile(filepath.Join(dir, largeContract)); err == nil {
			texts["cuad-338KB"] = string(data)
		}
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
		b.Log("the 338 KB contract is not present (set $TOLLGATE_CONTRACTS); benchmarked the sample only")
	}
}
