// Command echo is a test function for Paddock: it returns its event
// unchanged, and a few control fields in the event make it exercise the
// platform's other paths (function errors, runtime crashes, log capture,
// memory limits)
// without needing a separate binary for each.
//
// Build it as "bootstrap" for the provided.al2023 runtime (see
// scripts/build-examples.sh).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// control holds the fields echo acts on. Pointers tell "absent" from
// "empty", so {"error": ""} still returns an error.
type control struct {
	Error *string `json:"error"`
	Crash bool    `json:"crash"`
	Print *string `json:"print"`
	// AllocMB makes the function allocate and touch this many MB, to
	// test that memory past the function's limit is refused.
	AllocMB int `json:"alloc_mb"`
}

// hold keeps allocations reachable so they stay resident.
var hold [][]byte

// handle echoes in. It prints before crashing or failing so a test can also
// check that logs written just before a failure are not lost.
func handle(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
	var c control
	// Events that are not objects (arrays, strings, numbers) or whose
	// fields have other types are simply echoed: a type error leaves the
	// fields it could not fill at their zero values.
	_ = json.Unmarshal(in, &c)
	if c.Print != nil {
		fmt.Println(*c.Print)
	}
	if c.Crash {
		os.Exit(3)
	}
	for i := 0; i < c.AllocMB; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j) // touch every page so it is resident
		}
		hold = append(hold, b)
	}
	if c.Error != nil {
		return nil, errors.New(*c.Error)
	}
	return in, nil
}

func main() {
	lambda.Start(handle)
}
