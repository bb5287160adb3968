package codezip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// zent is one member of a test zip. A mode with fs.ModeSymlink makes body
// the link target; a name ending in "/" makes a directory.
type zent struct {
	name string
	body string
	mode fs.FileMode
}

// mkzip builds a zip in memory the way real tools do (unix modes, deflate).
func mkzip(t testing.TB, ents ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		if strings.HasSuffix(e.name, "/") {
			mode |= fs.ModeDir
			h.Method = zip.Store
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatalf("create %q: %v", e.name, err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatalf("write %q: %v", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// deflated compresses data so a test can write it with CreateRaw and any
// header it likes.
func deflated(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawzip writes one entry with a hand-made header, to tell lies about sizes
// or methods that zip.Writer would never produce on its own.
func rawzip(t testing.TB, h *zip.FileHeader, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// buildZeros makes a zip holding one entry of n zero bytes without ever
// holding or compressing n bytes: each MiB of zeros deflates to the same
// self-contained, byte-aligned block, so the stream is that block repeated.
// This keeps a 300 MiB bomb to a few hundred KB and milliseconds, even
// under -race, while its data still inflates to exactly n zeros.
func buildZeros(name string, n int64) ([]byte, error) {
	const chunk = 1 << 20
	segment := func(size int, final bool) ([]byte, error) {
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, flate.BestSpeed)
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(make([]byte, size)); err != nil {
			return nil, err
		}
		if final {
			err = fw.Close()
		} else {
			err = fw.Flush() // ends on a byte boundary, not the last block
		}
		return buf.Bytes(), err
	}
	full, err := segment(chunk, false)
	if err != nil {
		return nil, err
	}
	tail, err := segment(int(n%chunk), true)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, chunk)
	var crc uint32
	for range n / chunk {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	crc = crc32.Update(crc, crc32.IEEETable, zeros[:n%chunk])

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               name,
		Method:             zip.Deflate,
		CRC32:              crc,
		CompressedSize64:   uint64(n/chunk)*uint64(len(full)) + uint64(len(tail)),
		UncompressedSize64: uint64(n),
	})
	if err != nil {
		return nil, err
	}
	for range n / chunk {
		if _, err := w.Write(full); err != nil {
			return nil, err
		}
	}
	if _, err := w.Write(tail); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zerosZip(t testing.TB, name string, n int64) []byte {
	t.Helper()
	b, err := buildZeros(name, n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bomb300 is built once: several tests share it and it is the slowest input.
var bomb300 = sync.OnceValue(func() []byte {
	b, err := buildZeros("bootstrap", 300<<20)
	if err != nil {
		panic(err)
	}
	return b
})

// manyFiles builds a zip of n tiny files.
func manyFiles(t testing.TB, n int) []byte {
	ents := make([]zent, n)
	for i := range ents {
		ents[i] = zent{name: "f/" + strings.Repeat("x", i+1), body: "x"}
	}
	return mkzip(t, ents...)
}

// onlyCode fails the test if anything but "code" appeared next to the code
// directory: the cheap, reliable sign that an entry escaped.
func onlyCode(t *testing.T, base string) {
	t.Helper()
	names, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n.Name() != "code" {
			t.Errorf("extraction wrote %q outside the code directory", filepath.Join(base, n.Name()))
		}
	}
}

func wantMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode(); got != want {
		t.Errorf("%s: mode %v, want %v", p, got, want)
	}
}

func wantBody(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("%s: body %q, want %q", p, b, want)
	}
}

func TestCodeSha256(t *testing.T) {
	sum := sha256.Sum256([]byte("hello zip"))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		// sha256("") is e3b0c442...b855; this is its base64.
		{"empty", []byte{}, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{"nil is empty", nil, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{"bytes", []byte("hello zip"), base64.StdEncoding.EncodeToString(sum[:])},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeSha256(tc.in); got != tc.want {
				t.Errorf("CodeSha256 = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	tests := []struct {
		name    string
		zip     []byte
		lim     Limits
		want    Info
		wantErr error
	}{
		{
			name: "bootstrap at top level",
			zip:  mkzip(t, zent{name: "bootstrap", body: "#!/bin/sh\n", mode: 0o755}, zent{name: "lib/", mode: 0o755}, zent{name: "lib/a.txt", body: "abc"}),
			want: Info{Files: 3, UnzippedBytes: 13, HasBootstrap: true},
		},
		{
			name: "leading ./ still top level",
			zip:  mkzip(t, zent{name: "./bootstrap", body: "x", mode: 0o755}),
			want: Info{Files: 1, UnzippedBytes: 1, HasBootstrap: true},
		},
		{
			name: "symlinked bootstrap counts",
			zip:  mkzip(t, zent{name: "bin/app", body: "x", mode: 0o755}, zent{name: "bootstrap", body: "bin/app", mode: fs.ModeSymlink | 0o777}),
			want: Info{Files: 2, UnzippedBytes: 8, HasBootstrap: true},
		},
		{
			name: "nested bootstrap is not the entry point",
			zip:  mkzip(t, zent{name: "sub/bootstrap", body: "x", mode: 0o755}),
			want: Info{Files: 1, UnzippedBytes: 1},
		},
		{
			name: "bootstrap directory is not the entry point",
			zip:  mkzip(t, zent{name: "bootstrap/", mode: 0o755}),
			want: Info{Files: 1},
		},
		{
			name: "empty archive is valid but has no bootstrap",
			zip:  mkzip(t),
			want: Info{},
		},
		{
			name:    "backslash traversal",
			zip:     mkzip(t, zent{name: `..\evil`, body: "x"}),
			wantErr: ErrUnsafePath,
		},
		{
			name:    "declared size over the limit",
			zip:     mkzip(t, zent{name: "a", body: strings.Repeat("a", 100)}),
			lim:     Limits{MaxUnzippedBytes: 99},
			wantErr: ErrTooLarge,
		},
		{
			name: "declared size at the limit",
			zip:  mkzip(t, zent{name: "a", body: strings.Repeat("a", 100)}),
			lim:  Limits{MaxUnzippedBytes: 100},
			want: Info{Files: 1, UnzippedBytes: 100},
		},
		{
			name:    "300 MiB bomb by ratio",
			zip:     bomb300(),
			wantErr: ErrTooLarge,
		},
		{
			name:    "300 MiB bomb by total even with ratio allowed",
			zip:     bomb300(),
			lim:     Limits{MaxRatio: 1 << 40},
			wantErr: ErrTooLarge,
		},
		{
			name: "highly compressible small file is not a bomb",
			zip:  zerosZip(t, "zeros", 1<<20-1),
			want: Info{Files: 1, UnzippedBytes: 1<<20 - 1},
		},
		{
			name:    "too many files",
			zip:     manyFiles(t, 5),
			lim:     Limits{MaxFiles: 4},
			wantErr: ErrTooLarge,
		},
		{
			name:    "unsupported compression method",
			zip:     rawzip(t, &zip.FileHeader{Name: "a", Method: 12, CompressedSize64: 1, UncompressedSize64: 1}, []byte{0}),
			wantErr: ErrNotZip,
		},
		{
			name:    "encrypted entry",
			zip:     rawzip(t, &zip.FileHeader{Name: "a", Method: zip.Store, Flags: 0x1, CompressedSize64: 1, UncompressedSize64: 1}, []byte{0}),
			wantErr: ErrNotZip,
		},
		{
			name:    "truncated zip",
			zip:     mkzip(t, zent{name: "bootstrap", body: "x"})[:30],
			wantErr: ErrNotZip,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Inspect(tc.zip, tc.lim)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("Inspect error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Inspect = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	big := make([]byte, 2<<20) // like a binary: big and barely compressible
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name    string
		zip     []byte
		lim     Limits
		wantErr error
		msg     string // substring the user-facing message must contain
		check   func(t *testing.T, dir string)
	}{
		{
			name: "bootstrap keeps its exec bit",
			zip: mkzip(t,
				zent{name: "bootstrap", body: "#!/bin/sh\necho hi\n", mode: 0o755},
				zent{name: "owner-exec", body: "x", mode: 0o700},
				zent{name: "data.json", body: "{}", mode: 0o644},
				zent{name: "private", body: "x", mode: 0o600},
			),
			check: func(t *testing.T, dir string) {
				wantBody(t, filepath.Join(dir, "bootstrap"), "#!/bin/sh\necho hi\n")
				wantMode(t, filepath.Join(dir, "bootstrap"), 0o755)
				wantMode(t, filepath.Join(dir, "owner-exec"), 0o755)
				wantMode(t, filepath.Join(dir, "data.json"), 0o644)
				wantMode(t, filepath.Join(dir, "private"), 0o644)
				wantMode(t, dir, fs.ModeDir|0o755)
			},
		},
		{
			name: "nested directories, explicit and implicit",
			zip: mkzip(t,
				zent{name: "a/", mode: 0o700},
				zent{name: "a/b/c.txt", body: "deep"},
				zent{name: "x/y/", mode: 0o755},
				zent{name: "a/b/d.txt", body: "also"},
				zent{name: "a/", mode: 0o755},
			),
			check: func(t *testing.T, dir string) {
				wantBody(t, filepath.Join(dir, "a/b/c.txt"), "deep")
				wantBody(t, filepath.Join(dir, "a/b/d.txt"), "also")
				wantMode(t, filepath.Join(dir, "a"), fs.ModeDir|0o755)
				wantMode(t, filepath.Join(dir, "a/b"), fs.ModeDir|0o755)
				wantMode(t, filepath.Join(dir, "x/y"), fs.ModeDir|0o755)
			},
		},
		{
			name: "windows separators become directories",
			zip:  mkzip(t, zent{name: `lib\util.js`, body: "u"}),
			check: func(t *testing.T, dir string) {
				wantBody(t, filepath.Join(dir, "lib/util.js"), "u")
			},
		},
		{
			name: "dot-dot that stays inside is cleaned",
			zip:  mkzip(t, zent{name: "a/../b", body: "b"}),
			check: func(t *testing.T, dir string) {
				wantBody(t, filepath.Join(dir, "b"), "b")
			},
		},
		{
			name: "2 MiB file round-trips",
			zip:  mkzip(t, zent{name: "bootstrap", body: string(big), mode: 0o755}),
			check: func(t *testing.T, dir string) {
				b, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
				if err != nil || !bytes.Equal(b, big) {
					t.Errorf("content differs (err %v, %d bytes)", err, len(b))
				}
			},
		},
		{
			name: "compressible file below the ratio floor",
			zip:  zerosZip(t, "zeros", 1<<20-1),
			check: func(t *testing.T, dir string) {
				b, err := os.ReadFile(filepath.Join(dir, "zeros"))
				if err != nil || len(b) != 1<<20-1 || bytes.IndexFunc(b, func(r rune) bool { return r != 0 }) >= 0 {
					t.Errorf("want %d zeros, got %d bytes (err %v)", 1<<20-1, len(b), err)
				}
			},
		},
		{
			name: "relative symlink inside is kept",
			zip: mkzip(t,
				zent{name: "lib/libx.so.1", body: "elf"},
				zent{name: "lib/libx.so", body: "libx.so.1", mode: fs.ModeSymlink | 0o777},
			),
			check: func(t *testing.T, dir string) {
				target, err := os.Readlink(filepath.Join(dir, "lib/libx.so"))
				if err != nil || target != "libx.so.1" {
					t.Errorf("Readlink = %q, %v; want libx.so.1", target, err)
				}
				wantBody(t, filepath.Join(dir, "lib/libx.so"), "elf")
			},
		},
		{name: "random bytes", zip: random, wantErr: ErrNotZip},
		{name: "empty", zip: []byte{}, wantErr: ErrNotZip, msg: "empty"},
		{name: "nil", zip: nil, wantErr: ErrNotZip},
		{name: "dot-dot", zip: mkzip(t, zent{name: "../x", body: "x"}), wantErr: ErrUnsafePath},
		{
			name: "deep dot-dot", zip: mkzip(t, zent{name: "../../etc/passwd", body: "x"}), wantErr: ErrUnsafePath,
			msg: `zip entry "../../etc/passwd" escapes the code directory`,
		},
		{name: "absolute", zip: mkzip(t, zent{name: "/abs", body: "x"}), wantErr: ErrUnsafePath},
		{name: "climbs out after a dir", zip: mkzip(t, zent{name: "a/../../x", body: "x"}), wantErr: ErrUnsafePath},
		{name: "dot slash dot-dot", zip: mkzip(t, zent{name: "./../x", body: "x"}), wantErr: ErrUnsafePath},
		{name: "backslash dot-dot", zip: mkzip(t, zent{name: `..\x`, body: "x"}), wantErr: ErrUnsafePath},
		{name: "backslash climb", zip: mkzip(t, zent{name: `a\..\..\x`, body: "x"}), wantErr: ErrUnsafePath},
		{name: "backslash absolute", zip: mkzip(t, zent{name: `\abs`, body: "x"}), wantErr: ErrUnsafePath},
		{name: "drive letter", zip: mkzip(t, zent{name: `C:\x`, body: "x"}), wantErr: ErrUnsafePath},
		{name: "dir entry dot-dot", zip: mkzip(t, zent{name: "../d/"}), wantErr: ErrUnsafePath},
		{name: "file named dot", zip: mkzip(t, zent{name: ".", body: "x"}), wantErr: ErrUnsafePath},
		{name: "empty name", zip: mkzip(t, zent{name: "", body: "x"}), wantErr: ErrUnsafePath},
		{
			name:    "symlink to absolute path",
			zip:     mkzip(t, zent{name: "passwd", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}),
			wantErr: ErrUnsafePath,
			msg:     "absolute path",
		},
		{
			name:    "symlink climbing out",
			zip:     mkzip(t, zent{name: "up", body: "../../..", mode: fs.ModeSymlink | 0o777}),
			wantErr: ErrUnsafePath,
		},
		{
			name:    "symlink climbing out after a dir",
			zip:     mkzip(t, zent{name: "up", body: "a/../../x", mode: fs.ModeSymlink | 0o777}),
			wantErr: ErrUnsafePath,
		},
		{
			name: "file written through an earlier symlink",
			zip: mkzip(t,
				zent{name: "sub/", mode: 0o755},
				zent{name: "l", body: "sub", mode: fs.ModeSymlink | 0o777},
				zent{name: "l/x", body: "x"},
			),
			wantErr: ErrUnsafePath,
		},
		{
			name:    "duplicate file",
			zip:     mkzip(t, zent{name: "bootstrap", body: "one"}, zent{name: "bootstrap", body: "two"}),
			wantErr: ErrUnsafePath,
		},
		{
			name:    "file replaced by a symlink",
			zip:     mkzip(t, zent{name: "a", body: "one"}, zent{name: "a", body: "b", mode: fs.ModeSymlink | 0o777}),
			wantErr: ErrUnsafePath,
		},
		{
			name:    "300 MiB bomb",
			zip:     bomb300(),
			wantErr: ErrTooLarge,
			msg:     "zip bomb",
		},
		{
			name:    "too many files",
			zip:     manyFiles(t, 11),
			lim:     Limits{MaxFiles: 10},
			wantErr: ErrTooLarge,
			msg:     "11 entries",
		},
		{
			name: "file count at the limit",
			zip:  manyFiles(t, 10),
			lim:  Limits{MaxFiles: 10},
		},
		{
			name:    "total over a lowered limit",
			zip:     mkzip(t, zent{name: "a", body: "12345"}, zent{name: "b", body: "67890"}),
			lim:     Limits{MaxUnzippedBytes: 9},
			wantErr: ErrTooLarge,
		},
		{
			// archive/zip itself refuses to produce more than the
			// declared size; whatever catches it, nothing big lands.
			name: "declared size smaller than the data",
			zip: rawzip(t, &zip.FileHeader{
				Name: "bootstrap", Method: zip.Deflate,
				CompressedSize64: uint64(len(deflated(t, big))), UncompressedSize64: 10,
				CRC32: crc32.ChecksumIEEE(big),
			}, deflated(t, big)),
			wantErr: ErrNotZip,
			check: func(t *testing.T, dir string) {
				if st, err := os.Stat(filepath.Join(dir, "bootstrap")); err == nil && st.Size() > 10 {
					t.Errorf("wrote %d bytes for an entry declared as 10", st.Size())
				}
			},
		},
		{
			name: "bad checksum",
			zip: rawzip(t, &zip.FileHeader{
				Name: "a", Method: zip.Store, CompressedSize64: 3, UncompressedSize64: 3, CRC32: 1,
			}, []byte("abc")),
			wantErr: ErrNotZip,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "code")
			err := Extract(tc.zip, dir, tc.lim)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("Extract error = %v, want %v", err, tc.wantErr)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			onlyCode(t, base)
			if tc.check != nil {
				tc.check(t, dir)
			}
		})
	}
}

// TestExtractCountsWrittenBytes drives the copy loop with limits tighter
// than the ones the headers were checked against, which is exactly what a
// lying header would look like to it: only the bytes really written count.
func TestExtractCountsWrittenBytes(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name     string
		zip      []byte
		lim      Limits
		wantErr  error
		maxBytes int64 // most bytes that may be on disk afterwards
	}{
		{
			name:     "total budget stops the copy",
			zip:      mkzip(t, zent{name: "a", body: strings.Repeat("a", 3*mib)}),
			lim:      Limits{MaxUnzippedBytes: mib, MaxRatio: 1 << 40},
			wantErr:  ErrTooLarge,
			maxBytes: mib + 1,
		},
		{
			name:     "budget shared across entries",
			zip:      mkzip(t, zent{name: "a", body: strings.Repeat("a", 600<<10)}, zent{name: "b", body: strings.Repeat("b", 600<<10)}),
			lim:      Limits{MaxUnzippedBytes: mib, MaxRatio: 1 << 40},
			wantErr:  ErrTooLarge,
			maxBytes: mib + 1,
		},
		{
			name:     "ratio stops a bomb while copying",
			zip:      zerosZip(t, "z", 8<<20),
			lim:      Limits{MaxUnzippedBytes: 1 << 40, MaxRatio: 10},
			wantErr:  ErrTooLarge,
			maxBytes: mib + 1,
		},
		{
			name:     "compressible file allowed by the ratio",
			zip:      zerosZip(t, "z", 3<<20+5),
			lim:      Limits{MaxUnzippedBytes: 4 << 20, MaxRatio: 1 << 40},
			maxBytes: 3<<20 + 5,
		},
		{
			name:     "within both limits",
			zip:      mkzip(t, zent{name: "a", body: strings.Repeat("a", mib)}),
			lim:      Limits{MaxUnzippedBytes: mib, MaxRatio: 1 << 40},
			maxBytes: mib,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Check headers with no limits, as if they had lied.
			_, _, entries, err := open(tc.zip, Limits{MaxUnzippedBytes: 1 << 50, MaxRatio: 1 << 40}.withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			root, err := os.OpenRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			err = extractEntries(root, entries, tc.lim.withDefaults())
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			var total int64
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					if st, err := d.Info(); err == nil {
						total += st.Size()
					}
				}
				return nil
			})
			if total > tc.maxBytes {
				t.Errorf("%d bytes on disk, want at most %d", total, tc.maxBytes)
			}
		})
	}
}

func TestExtractTargetDir(t *testing.T) {
	good := mkzip(t, zent{name: "bootstrap", body: "x", mode: 0o755})
	tests := []struct {
		name    string
		setup   func(t *testing.T, base string) string // returns the dir to extract into
		wantErr bool
	}{
		{"missing dir is created with parents", func(t *testing.T, base string) string { return filepath.Join(base, "code", "v1") }, false},
		{"existing empty dir", func(t *testing.T, base string) string {
			d := filepath.Join(base, "code")
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			return d
		}, false},
		{"non-empty dir is refused", func(t *testing.T, base string) string {
			d := filepath.Join(base, "code")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "old"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}, true},
		{"a file is refused", func(t *testing.T, base string) string {
			d := filepath.Join(base, "code")
			if err := os.WriteFile(d, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t, t.TempDir())
			err := Extract(good, dir, Limits{})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Extract error = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr {
				wantMode(t, filepath.Join(dir, "bootstrap"), 0o755)
			}
		})
	}
}

// FuzzExtract checks the one promise that matters most: whatever the bytes,
// Extract does not panic and writes nothing outside its directory, and every
// symlink it leaves resolves inside it.
func FuzzExtract(f *testing.F) {
	f.Add(mkzip(f, zent{name: "bootstrap", body: "#!/bin/sh\n", mode: 0o755}))
	f.Add(mkzip(f, zent{name: "a/", mode: 0o755}, zent{name: "a/b.txt", body: "b"}, zent{name: "a/l", body: "b.txt", mode: fs.ModeSymlink | 0o777}))
	f.Add(mkzip(f, zent{name: "../x", body: "x"}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dir := filepath.Join(base, "code")
		_ = Extract(data, dir, Limits{MaxUnzippedBytes: 1 << 20, MaxFiles: 64})
		onlyCode(t, base)
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			target, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			resolved := filepath.Join(filepath.Dir(p), target)
			if filepath.IsAbs(target) || !strings.HasPrefix(resolved+"/", dir+"/") {
				t.Errorf("symlink %s -> %s leaves the code directory", p, target)
			}
			return nil
		})
	})
}
