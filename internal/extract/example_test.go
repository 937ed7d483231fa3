package extract_test

import (
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/internal/extract"
)

func ExampleBytes() {
	page := `<html><head><title>Terms</title><script>track()</script></head>
<body><h1>Terms of Service</h1><p>Be   nice.<br>Pay on time.</p><ul><li>No spam</li></ul></body></html>`
	doc, err := extract.Bytes("terms.html", []byte(page))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s, title %q:\n%s\n", doc.Format, doc.Meta["title"], doc.Text)

	_, err = extract.Bytes("notes.txt", []byte("   \n"))
	fmt.Println(errors.Is(err, extract.ErrEmpty), err)
	// Output:
	// html, title "Terms":
	// # Terms
	//
	// # Terms of Service
	//
	// Be nice.
	// Pay on time.
	//
	// - No spam
	// true extract notes.txt: no text found (the file holds only whitespace)
}
