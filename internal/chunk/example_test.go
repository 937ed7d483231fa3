package chunk_test

import (
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/chunk"
	"github.com/tollgate-dev/tollgate/internal/estimate"
)

func ExampleSplit() {
	text := "ARTICLE 1\nThe Supplier delivers the Products each month.\n\n" +
		"ARTICLE 2\nThe Buyer pays each invoice within thirty days.\n\n" +
		"ARTICLE 3\nEither party may end this Agreement on notice.\n"
	chunks, err := chunk.Split(text, chunk.Config{MaxTokens: 30, OverlapTokens: 12, Count: estimate.Base().Count})
	if err != nil {
		panic(err)
	}
	for _, c := range chunks {
		fmt.Printf("%d [%d,%d) %s: %q\n", c.Index, c.Start, c.End, c.Heading, strings.ReplaceAll(c.Text, "\n", " "))
	}
	// Output:
	// 0 [0,117) ARTICLE 1: "ARTICLE 1 The Supplier delivers the Products each month.  ARTICLE 2 The Buyer pays each invoice within thirty days.  "
	// 1 [117,174) ARTICLE 3: "The Buyer pays each invoice within thirty days.  ARTICLE 3 Either party may end this Agreement on notice. "
}
