package pollers

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestFilter(t *testing.T) {
	record := `{"body":{"type":"order","total":42,"tags":["a","b"],"customer":{"tier":"gold"}},"attributes":{"ApproximateReceiveCount":"1"}}`
	var r map[string]any
	if err := json.Unmarshal([]byte(record), &r); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		patterns []string
		want     bool
	}{
		{"no patterns", nil, true},
		{"equal string", []string{`{"body":{"type":["order"]}}`}, true},
		{"other string", []string{`{"body":{"type":["refund"]}}`}, false},
		{"any of two patterns", []string{`{"body":{"type":["refund"]}}`, `{"body":{"total":[42]}}`}, true},
		{"nested", []string{`{"body":{"customer":{"tier":["gold","silver"]}}}`}, true},
		{"every key must match", []string{`{"body":{"type":["order"],"total":[1]}}`}, false},
		{"a list value matches by element", []string{`{"body":{"tags":["b"]}}`}, true},
		{"prefix", []string{`{"body":{"type":[{"prefix":"ord"}]}}`}, true},
		{"suffix", []string{`{"body":{"type":[{"suffix":"xx"}]}}`}, false},
		{"exists", []string{`{"body":{"coupon":[{"exists":false}]}}`}, true},
		{"exists, but absent", []string{`{"body":{"coupon":[{"exists":true}]}}`}, false},
		{"anything-but", []string{`{"body":{"type":[{"anything-but":["refund"]}]}}`}, true},
		{"anything-but the value", []string{`{"body":{"type":[{"anything-but":"order"}]}}`}, false},
		{"numeric range", []string{`{"body":{"total":[{"numeric":[">",10,"<=",42]}]}}`}, true},
		{"numeric out of range", []string{`{"body":{"total":[{"numeric":["<",10]}]}}`}, false},
		{"attributes", []string{`{"attributes":{"ApproximateReceiveCount":["1"]}}`}, true},
		{"a leaf that is not a list", []string{`{"body":{"type":"order"}}`}, false},
	}
	for _, c := range cases {
		f, err := NewFilter(c.patterns)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := f.Match(r); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := NewFilter([]string{`not json`}); err == nil {
		t.Error("a pattern that is not JSON was taken")
	}
}

func TestBatchFailures(t *testing.T) {
	records := []events.SQSMessage{{MessageId: "m1"}, {MessageId: "m2"}, {MessageId: "m3"}}
	cases := []struct {
		name, resp string
		failed     []string
		whole      bool
	}{
		{"no answer", ``, nil, false},
		{"null", `null`, nil, false},
		{"empty object", `{}`, nil, false},
		{"empty list", `{"batchItemFailures":[]}`, nil, false},
		{"null list", `{"batchItemFailures":null}`, nil, false},
		{"two failed", `{"batchItemFailures":[{"itemIdentifier":"m1"},{"itemIdentifier":"m3"}]}`, []string{"m1", "m3"}, false},
		{"not JSON", `{"batchItemFailures":`, nil, true},
		{"empty identifier", `{"batchItemFailures":[{"itemIdentifier":""}]}`, nil, true},
		{"null identifier", `{"batchItemFailures":[{"itemIdentifier":null}]}`, nil, true},
		{"a bad key name", `{"batchItemFailures":[{"itemId":"m1"}]}`, nil, true},
		{"an id not in the batch", `{"batchItemFailures":[{"itemIdentifier":"m9"}]}`, nil, true},
	}
	for _, c := range cases {
		failed, whole := batchFailures([]byte(c.resp), sqsIDs(records))
		if whole != c.whole || !whole && len(failed) != len(c.failed) {
			t.Errorf("%s: failed %v whole %v, want %v %v", c.name, failed, whole, c.failed, c.whole)
			continue
		}
		for _, id := range c.failed {
			if !failed[id] {
				t.Errorf("%s: %s not failed", c.name, id)
			}
		}
	}
}
