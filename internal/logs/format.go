package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Log formats, as in a function's LoggingConfig.LogFormat.
const (
	FormatText = "Text"
	FormatJSON = "JSON"
)

// Streams a record can come from.
const (
	StreamStdout   = "stdout"
	StreamStderr   = "stderr"
	StreamPlatform = "platform"
)

// Error types the platform itself reports (runtimeapi's): Lambda marks the
// REPORT of such an invoke with a status, unlike an error the handler
// returned.
const (
	errorTypeTimeout = "Sandbox.Timedout"
)

var platformErrorTypes = map[string]bool{
	errorTypeTimeout:                true,
	"Runtime.ExitError":             true,
	"Runtime.OutOfMemory":           true,
	"Function.ResponseSizeTooLarge": true,
}

// maxMessageBytes caps one stored line. Lambda's own cap is 256 KB per
// CloudWatch event; a smaller one keeps a batch of even the worst lines
// (every byte escaped in JSON) under the engine's 1 MB message limit.
const maxMessageBytes = 64 << 10

// lambdaTime is how Lambda writes times in its logs: UTC, milliseconds.
const lambdaTime = "2006-01-02T15:04:05.000Z"

// Report is what the platform's closing lines say about one invoke.
type Report struct {
	RequestID     string
	Version       string
	Duration      time.Duration
	InitDuration  time.Duration // zero unless the invoke was a cold start
	MemoryMB      int
	MaxMemoryUsed int64 // bytes; zero when unknown
	Timeout       time.Duration
	ErrorType     string // "" on success
	Failed        bool   // the invoke ended with a function error
}

// status is the platform.report status: "timeout", "error" or "success".
func (r Report) status() string {
	switch {
	case r.ErrorType == errorTypeTimeout:
		return "timeout"
	case r.Failed:
		return "error"
	}
	return "success"
}

// ms is a duration in milliseconds with Lambda's two decimals.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// billedMs rounds a duration up to the millisecond, as Lambda bills.
func billedMs(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// usedMB is resident memory in whole MB, rounded up as Lambda reports it.
func usedMB(bytes int64) int64 { return (bytes + 1<<20 - 1) >> 20 }

// startLine is the platform line that opens an invoke.
func startLine(format string, at time.Time, requestID, version string) string {
	if format != FormatJSON {
		return "START RequestId: " + requestID + " Version: " + version
	}
	b := appendEventHead(make([]byte, 0, 160), at, "platform.start")
	b = append(b, `{"requestId":`...)
	b = appendJSONString(b, requestID)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, version)
	return string(append(b, "}}"...))
}

// endLines are the platform lines that close an invoke: in Text mode the
// timeout notice (if it timed out), END and REPORT; in JSON mode the
// platform.report event, which stands for both END and REPORT.
func endLines(format string, at time.Time, r Report) []string {
	if format == FormatJSON {
		// Built with appends rather than encoding/json: this runs for
		// every invoke. encoding/json writes these floats the same way
		// (strconv's shortest 'f' form).
		b := appendEventHead(make([]byte, 0, 256), at, "platform.report")
		b = append(b, `{"requestId":`...)
		b = appendJSONString(b, r.RequestID)
		b = append(b, `,"metrics":{"durationMs":`...)
		b = strconv.AppendFloat(b, ms(r.Duration), 'f', -1, 64)
		b = append(b, `,"billedDurationMs":`...)
		b = strconv.AppendInt(b, billedMs(r.Duration), 10)
		b = append(b, `,"memorySizeMB":`...)
		b = strconv.AppendInt(b, int64(r.MemoryMB), 10)
		b = append(b, `,"maxMemoryUsedMB":`...)
		b = strconv.AppendInt(b, usedMB(r.MaxMemoryUsed), 10)
		if r.InitDuration > 0 {
			b = append(b, `,"initDurationMs":`...)
			b = strconv.AppendFloat(b, ms(r.InitDuration), 'f', -1, 64)
		}
		b = append(b, `},"status":`...)
		b = appendJSONString(b, r.status())
		if r.status() != "success" {
			b = append(b, `,"errorType":`...)
			b = appendJSONString(b, r.ErrorType)
		}
		return []string{string(append(b, "}}"...))}
	}
	var out []string
	if r.ErrorType == errorTypeTimeout {
		out = append(out, fmt.Sprintf("%s %s Task timed out after %.2f seconds", at.UTC().Format(lambdaTime), r.RequestID, r.Timeout.Seconds()))
	}
	out = append(out, "END RequestId: "+r.RequestID)
	// Built with appends rather than fmt: this runs for every invoke.
	b := make([]byte, 0, 160)
	b = append(b, "REPORT RequestId: "...)
	b = append(b, r.RequestID...)
	b = append(b, "\tDuration: "...)
	b = strconv.AppendFloat(b, ms(r.Duration), 'f', 2, 64)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, billedMs(r.Duration), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(r.MemoryMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, usedMB(r.MaxMemoryUsed), 10)
	b = append(b, " MB"...)
	if r.InitDuration > 0 {
		b = append(b, "\tInit Duration: "...)
		b = strconv.AppendFloat(b, ms(r.InitDuration), 'f', 2, 64)
		b = append(b, " ms"...)
	}
	// Lambda adds a status only when the platform ended the invoke, not
	// when the handler returned an error.
	if platformErrorTypes[r.ErrorType] {
		b = append(b, "\tStatus: "...)
		b = append(b, r.status()...)
		if r.status() == "error" {
			b = append(b, "\tError Type: "...)
			b = append(b, r.ErrorType...)
		}
	}
	return append(out, string(b))
}

// appendEventHead starts a platform event in JSON mode, up to its record.
func appendEventHead(b []byte, at time.Time, typ string) []byte {
	b = append(b, `{"time":"`...)
	b = at.UTC().AppendFormat(b, lambdaTime)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	return append(b, `","record":`...)
}

// ownRequestID reads the requestId of a line the function printed as a
// JSON object itself. ok reports whether the line is a JSON object, which
// JSON mode stores as it is.
func ownRequestID(text string) (id string, ok bool) {
	t := strings.TrimSpace(text)
	if len(t) < 2 || t[0] != '{' || t[len(t)-1] != '}' {
		return "", false
	}
	// Node.js's and Python's runtime clients name it requestId, Java's
	// AWSRequestId.
	var v struct {
		RequestID    any `json:"requestId"`
		AWSRequestID any `json:"AWSRequestId"`
	}
	if json.Unmarshal([]byte(t), &v) != nil {
		return "", false
	}
	id, _ = v.RequestID.(string)
	if id == "" {
		id, _ = v.AWSRequestID.(string)
	}
	return id, true
}

// functionMessage is how a function's line is stored. Text mode keeps it
// as printed. JSON mode keeps a JSON object as printed and wraps any other
// line as Lambda wraps plain application logs, with the request id when
// the line could be attributed to one.
func functionMessage(format string, at time.Time, text, requestID string) string {
	text = truncate(text)
	if format != FormatJSON {
		return text
	}
	if _, isJSON := ownRequestID(text); isJSON {
		return text
	}
	wrapped := struct {
		Timestamp string `json:"timestamp"`
		Level     string `json:"level"`
		Message   string `json:"message"`
		RequestID string `json:"requestId,omitempty"`
	}{at.UTC().Format(lambdaTime), "INFO", text, requestID}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep <, > and & readable in the stored line
	enc.Encode(wrapped)      //nolint:errcheck // strings always encode
	return strings.TrimSuffix(b.String(), "\n")
}

// truncate cuts a line to maxMessageBytes, on a rune boundary, and says so.
func truncate(s string) string {
	if len(s) <= maxMessageBytes {
		return s
	}
	cut := maxMessageBytes
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + fmt.Sprintf(" [truncated %d bytes]", len(s)-cut)
}
