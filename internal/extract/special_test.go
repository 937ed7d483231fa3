package extract

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadFileRefusesSpecialFiles: devices, FIFOs and links to them are refused at once,
// unread: /dev/zero never ends, and a FIFO no one writes to would block for ever.
func TestReadFileRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.txt")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	toFifo := filepath.Join(dir, "to-pipe.md")
	if err := os.Symlink(fifo, toFifo); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock.txt")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, p := range []string{"/dev/zero", zero, fifo, toFifo, sock} {
		done := make(chan error, 1)
		go func() {
			_, err := File(p)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("File(%s) = %v; want ErrNotRegular", p, err)
			}
			if err != nil && !strings.Contains(err.Error(), "it is a") {
				t.Errorf("File(%s) = %v; want it to say what the file is", p, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("File(%s) still blocked after 10s", p)
		}
	}
}

// TestDocxOverTheXMLCap: a docx whose document.xml inflates past the 32 MB read is
// reported as too large, with the cap, not as a damaged file.
func TestDocxOverTheXMLCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	para := "<w:p><w:r><w:t>The supplier shall deliver the goods on time.</w:t></w:r></w:p>\n"
	for b.Len() < 33<<20 {
		b.WriteString(para)
	}
	b.WriteString(`</w:body></w:document>`)
	data := zipFile(t, "word/document.xml", b.String())
	_, err := Bytes("big.docx", data)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "32 MB") || strings.Contains(err.Error(), "damaged") || strings.Contains(err.Error(), "EOF") {
		t.Errorf("Bytes(docx of %d MB of XML) = %v; want ErrTooLarge naming the 32 MB cap", b.Len()>>20, err)
	}
}
