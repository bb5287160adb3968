package pollers

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestHoldBackGroups(t *testing.T) {
	// Records are "id/group", in the batch's order.
	cases := []struct {
		name           string
		batch          string
		failed, settle string // ids the function failed; ids to keep after holdBackGroups
	}{
		{"no failure", "a1/a a2/a b1/b", "", ""},
		{"the rest of a failed one's group comes back", "a1/a a2/a a3/a", "a2", "a2 a3"},
		{"other groups are settled", "a1/a b1/b a2/a b2/b", "a1", "a1 a2"},
		{"what came before the failure is settled", "a1/a b1/b a2/a b2/b a3/a", "a2 b2", "a2 a3 b2"},
		{"a function that names them all", "a1/a a2/a", "a1 a2", "a1 a2"},
	}
	for _, c := range cases {
		var records []events.SQSMessage
		for _, f := range strings.Fields(c.batch) {
			id, g, _ := strings.Cut(f, "/")
			records = append(records, events.SQSMessage{MessageId: id, Attributes: map[string]string{"MessageGroupId": g}})
		}
		failed := map[string]bool{}
		for _, id := range strings.Fields(c.failed) {
			failed[id] = true
		}
		holdBackGroups(records, failed)
		var got []string
		for id := range failed {
			got = append(got, id)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != c.settle {
			t.Errorf("%s: kept %v, want %s", c.name, got, c.settle)
		}
	}
}
