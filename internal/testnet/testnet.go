// Package testnet holds network fixtures shared by the tests of several packages.
package testnet

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// Stalled starts a real TCP listener on loopback that accepts connections and never
// answers: a backend that hangs. It returns the listener's http:// URL and a count of
// the connections accepted. The listener and every connection close when the test ends.
func Stalled(t testing.TB) (url string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var mu sync.Mutex
	var open []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String(), conns
}

// StalledClient returns an HTTP client whose requests are accepted and never answered,
// with no socket: each waits until its context is done and then fails with the
// context's error. It is Stalled for tests inside a testing/synctest bubble, whose clock
// cannot advance while a goroutine waits on a real socket. The count is of the requests
// made.
func StalledClient() (client *http.Client, requests *atomic.Int64) {
	requests = new(atomic.Int64)
	return &http.Client{Transport: stalled{requests}}, requests
}

type stalled struct{ requests *atomic.Int64 }

func (s stalled) RoundTrip(req *http.Request) (*http.Response, error) {
	s.requests.Add(1)
	if req.Body != nil {
		defer req.Body.Close()
	}
	<-req.Context().Done()
	return nil, req.Context().Err()
}
