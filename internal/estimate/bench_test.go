package estimate

import (
	"testing"
)

// benchContract is a contract of median size in the test set (about 37 KB, 8,000 tokens).
const benchContract = "BIOAMBERINC_04_10_2013-EX-10.34-DEVELOPMENT_AGREEMENT_1.txt"

func BenchmarkCount(b *testing.B) {
	text := readContract(b, benchContract)
	for _, tok := range []*Tokenizer{Base(), Reference()} {
		b.Run(tok.Name(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				tok.Count(text)
			}
		})
	}
	// The anchor: tiktoken-go, the library whose counts Count reproduces.
	b.Run("tiktoken-go", func(b *testing.B) {
		enc := oracle(b, Base())
		b.ReportAllocs()
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			enc.EncodeOrdinary(text)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		tok := Base()
		b.ReportAllocs()
		b.SetBytes(int64(len(text)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tok.Count(text)
			}
		})
	})
}

func BenchmarkParseInvokeBody(b *testing.B) {
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"system":"You are terse.","messages":[{"role":"user","content":[{"type":"text","text":"Summarise the contract."}]}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseInvokeBody(body); err != nil {
			b.Fatal(err)
		}
	}
}
