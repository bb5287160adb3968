package destinations

import (
	"strings"
	"testing"
	"time"
)

func TestS3RecordKey(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		record, prefix string
	}{
		{`{"requestContext":{"functionArn":"arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST"}}`, "aws/lambda/async/fn/2026/12/02/2026-12-02T03.04.05-"},
		{`{"requestContext":{"functionArn":"arn:aws:lambda:us-east-1:000000000000:function:other"}}`, "aws/lambda/async/other/2026/12/02/2026-12-02T03.04.05-"},
		{`not a record`, "aws/lambda/async/unknown/2026/12/02/2026-12-02T03.04.05-"},
	}
	for _, tt := range tests {
		got := s3RecordKey([]byte(tt.record), at)
		if !strings.HasPrefix(got, tt.prefix) || len(got) != len(tt.prefix)+36 {
			t.Errorf("%s: key %q, want %s<uuid>", tt.record, got, tt.prefix)
		}
	}
}
