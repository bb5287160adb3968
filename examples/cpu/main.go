// Command cpu is a test function for Paddock that burns a requested amount
// of CPU, so tests can observe billed duration, CPU limits and concurrency
// under load rather than under sleep.
//
// Input {"work": N}; output {"work": N, "result": "<hex sha256>"}.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/aws/aws-lambda-go/lambda"
)

// hashesPerUnit makes one unit of work about 1 ms of CPU: chained SHA-256
// over 64 bytes measured ~130 ns per hash on an x86-64 with SHA extensions.
// Machines without them are ~2-3x slower; tests should allow for that.
const hashesPerUnit = 7500

type request struct {
	Work int64 `json:"work"`
}

type response struct {
	Work   int64  `json:"work"`
	Result string `json:"result"`
}

// handle chains hashes so the work cannot be skipped or done in parallel,
// and returns the final hash so the result depends on all of it.
func handle(_ context.Context, req request) (response, error) {
	var buf [64]byte
	for i := int64(0); i < req.Work*hashesPerUnit; i++ {
		sum := sha256.Sum256(buf[:])
		copy(buf[:], sum[:])
	}
	final := sha256.Sum256(buf[:])
	return response{Work: req.Work, Result: hex.EncodeToString(final[:])}, nil
}

func main() {
	lambda.Start(handle)
}
