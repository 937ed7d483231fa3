// Package redistest runs real redis-server processes for tests.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/testtool"
)

// Server is a redis-server process started by Start.
type Server struct {
	// Addr is the server's TCP address, host:port on the loopback interface.
	Addr string
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
}

// Start starts a redis-server on a free loopback port, with no persistence, and stops it
// when the test ends. Without a redis-server binary on PATH it skips the test, or fails
// it when CI=true (CI must install it: scripts/test.sh does).
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testtool.Missing(t, "redis-server", "install it (Debian: apt-get install redis-server)")
	}
	s := &Server{t: t, dir: t.TempDir(), port: freePort(t)}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Restart starts the server again on the same port after Stop (it starts empty: nothing
// is persisted). It is a no-op while the server runs.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var last string
		found := false
		for sc.Scan() {
			last = sc.Text()
			if !found && containsReady(last) {
				found = true
				ready <- nil
			}
		}
		if !found {
			ready <- fmt.Errorf("redis-server exited before it was ready; last line: %q", last)
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			s.t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s.t.Fatalf("redis-server on port %d not ready after 20s ", s.port)
	}
	s.cmd = cmd
	// The log line comes just before the listener accepts; make sure it does.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
		if err == nil {
			c.Close()
			return
		}
		if ctx.Err() != nil {
			s.t.Fatalf("redis-server on %s does not accept connections: %v", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsReady(line string) bool { return strings.Contains(line, "Ready to accept connections") }

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Pause stops the server process (SIGSTOP) without closing its connections, as a hung
// host would; Resume continues it.
func (s *Server) Pause() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Resume continues a paused server.
func (s *Server) Resume() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Stop kills the server and waits for it to exit; Restart starts it again.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
