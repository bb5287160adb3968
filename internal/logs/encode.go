package logs

import (
	"time"
	"unicode/utf8"
)

// appendRecord appends r as one line of NDJSON, the stored form of a
// record: the same JSON encoding/json gives a Record, written without
// reflection because every invoke stores three records or more and the
// writer must stay cheap next to the invoke itself.
func appendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, `{"time":"`...)
	dst = r.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if r.RequestID != "" {
		dst = append(dst, `,"requestId":`...)
		dst = appendJSONString(dst, r.RequestID)
	}
	if r.EE != "" {
		dst = append(dst, `,"ee":`...)
		dst = appendJSONString(dst, r.EE)
	}
	dst = append(dst, `,"stream":`...)
	dst = appendJSONString(dst, r.Stream)
	if r.Version != "" {
		dst = append(dst, `,"version":`...)
		dst = appendJSONString(dst, r.Version)
	}
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, r.Message)
	return append(dst, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Like encoding/json it
// replaces invalid UTF-8 with U+FFFD and escapes U+2028 and U+2029 (which
// some JavaScript readers take for line ends); unlike it, it leaves <, >
// and & as they are, since no browser parses the stored lines as HTML.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
