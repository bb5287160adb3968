package agent

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// TestLoggerUsesTheDefaultHandlerOfTheMoment: a line logged after
// slog.SetDefault goes through the handler set, with the role as a field,
// not flattened into the message by the handler of package init.
func TestLoggerUsesTheDefaultHandlerOfTheMoment(t *testing.T) {
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	var buf bytes.Buffer
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))

	logger().Info("hello", "k", 1)

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line (%v): %q", err, buf.String())
	}
	if line["role"] != "agent" || line["msg"] != "hello" || line["k"] != float64(1) {
		t.Fatalf("line = %v, want role=agent msg=hello k=1 as fields", line)
	}
}
