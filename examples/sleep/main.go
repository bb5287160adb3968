// Command sleep is a test function for Paddock that takes as long as it is
// told to, so tests can drive timeouts and concurrency.
//
// Input {"sleep_ms": N}; output {"slept_ms": N}.
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	SleepMS int64 `json:"sleep_ms"`
}

type response struct {
	SleptMS int64 `json:"slept_ms"`
}

// handle sleeps with plain time.Sleep and deliberately ignores ctx: a
// timeout test must see the platform cut the function off at its deadline,
// not the function noticing the deadline and returning on its own.
func handle(_ context.Context, req request) (response, error) {
	time.Sleep(time.Duration(req.SleepMS) * time.Millisecond)
	return response{SleptMS: req.SleepMS}, nil
}

func main() {
	lambda.Start(handle)
}
