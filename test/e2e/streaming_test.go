package e2e

import (
	"bufio"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// partWritten reads when the function wrote a part ("part N at MS").
func partWritten(t *testing.T, line string) (n int, at time.Time) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "part" {
		t.Fatalf("not a part: %q", line)
	}
	n, _ = strconv.Atoi(f[1])
	ms, _ := strconv.ParseInt(f[3], 10, 64)
	return n, time.UnixMilli(ms)
}

// TestResponseStreaming: a function that writes its answer in three
// parts a second apart, through InvokeWithResponseStream (the SDK's event
// stream decoder) and through a RESPONSE_STREAM function URL: the first
// part reaches the caller before the function wrote the second; a failure
// midway ends the stream with InvokeComplete's error; a BUFFERED URL
// gets the same answer whole.
func TestResponseStreaming(t *testing.T) {
	e := start(t)
	if _, err := e.lambda.CreateFunction(ctx(t), &lambda.CreateFunctionInput{
		FunctionName: aws.String("streamer"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(roleARN), Code: &types.FunctionCode{ZipFile: testdataZip(t, "streamer")}, Timeout: aws.Int32(10),
	}); err != nil {
		t.Fatal(err)
	}
	e.settled("streamer")

	stream := func(payload string, logType types.LogType) ([]streamChunk, *types.InvokeWithResponseStreamCompleteEvent, *lambda.InvokeWithResponseStreamOutput) {
		return streamInvoke(t, e.lambda, "streamer", "", payload, logType)
	}

	chunks, complete, out := stream(`{}`, types.LogTypeTail)
	if aws.ToString(out.ExecutedVersion) != "$LATEST" || aws.ToString(out.ResponseStreamContentType) != "application/vnd.amazon.eventstream" || out.StatusCode != 200 {
		t.Errorf("head: version %q, content type %q, status %d", aws.ToString(out.ExecutedVersion), aws.ToString(out.ResponseStreamContentType), out.StatusCode)
	}
	checkStreamed(t, chunks)
	if complete.ErrorCode != nil || complete.LogResult == nil || aws.ToString(complete.LogResult) == "" {
		t.Errorf("InvokeComplete of a success: %+v", complete)
	}

	chunks, complete, _ = stream(`{"fail":true}`, "")
	if len(chunks) != 1 || !strings.HasPrefix(chunks[0].text, "part 1") {
		t.Errorf("a failing stream brought %+v", chunks)
	}
	if aws.ToString(complete.ErrorCode) == "" || aws.ToString(complete.ErrorDetails) != "failed while streaming" {
		t.Errorf("InvokeComplete of a failure: code %q details %q", aws.ToString(complete.ErrorCode), aws.ToString(complete.ErrorDetails))
	}

	// Through function URLs: streamed, and buffered.
	if _, err := e.lambda.AddPermission(ctx(t), &lambda.AddPermissionInput{
		FunctionName: aws.String("streamer"), StatementId: aws.String("url"), Action: aws.String("lambda:InvokeFunctionUrl"),
		Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone,
	}); err != nil {
		t.Fatal(err)
	}
	cfg, err := e.lambda.CreateFunctionUrlConfig(ctx(t), &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("streamer"), AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream,
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(aws.ToString(cfg.FunctionUrl) + "x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("X-Streamed") != "yes" || resp.Header.Get("Set-Cookie") != "s=1" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("streamed URL head: %d %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	firstAt := time.Now()
	rest, _ := br.ReadString(0)
	restLines := strings.Split(strings.TrimSpace(rest), "\n")
	if n, _ := partWritten(t, strings.TrimSpace(first)); n != 1 || len(restLines) != 2 {
		t.Fatalf("streamed URL body: %q then %q", first, rest)
	}
	if _, second := partWritten(t, restLines[0]); !firstAt.Before(second) {
		t.Errorf("URL: part 1 read at %s, after part 2 was written (%s): not streamed", firstAt.Format(time.StampMilli), second.Format(time.StampMilli))
	}

	if _, err := e.lambda.UpdateFunctionUrlConfig(ctx(t), &lambda.UpdateFunctionUrlConfigInput{
		FunctionName: aws.String("streamer"), InvokeMode: types.InvokeModeBuffered,
	}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(aws.ToString(cfg.FunctionUrl))
	r := e.urlDo("GET", u.String(), "/x", nil, nil, false)
	if r.status != 201 || r.header.Get("X-Streamed") != "yes" || strings.Count(string(r.body), "part ") != 3 {
		t.Errorf("buffered URL of a streaming function: %d %v %q", r.status, r.header, r.body)
	}
}

// streamChunk is one PayloadChunk as the caller got it.
type streamChunk struct {
	text     string
	received time.Time
}

// streamInvoke calls InvokeWithResponseStream and reads its events.
func streamInvoke(t *testing.T, c *lambda.Client, name, qualifier, payload string, logType types.LogType) ([]streamChunk, *types.InvokeWithResponseStreamCompleteEvent, *lambda.InvokeWithResponseStreamOutput) {
	t.Helper()
	in := &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: logType}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := c.InvokeWithResponseStream(ctx(t), in)
	if err != nil {
		t.Fatalf("InvokeWithResponseStream: %v", err)
	}
	s := out.GetStream()
	defer s.Close()
	var chunks []streamChunk
	var complete *types.InvokeWithResponseStreamCompleteEvent
	for ev := range s.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			chunks = append(chunks, streamChunk{string(v.Value.Payload), time.Now()})
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			complete = &v.Value
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("the event stream: %v", err)
	}
	if complete == nil {
		t.Fatal("no InvokeComplete event")
	}
	return chunks, complete, out
}

// checkStreamed checks that the streamer function's three parts came
// apart, the first before the function wrote the second.
func checkStreamed(t *testing.T, chunks []streamChunk) {
	t.Helper()
	var whole strings.Builder
	for _, c := range chunks {
		whole.WriteString(c.text)
	}
	lines := strings.Split(strings.TrimSpace(whole.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("the stream brought %q", whole.String())
	}
	if n, _ := partWritten(t, strings.TrimSpace(chunks[0].text)); n != 1 || len(chunks) < 2 {
		t.Fatalf("first chunk %q of %d: the parts did not come apart", chunks[0].text, len(chunks))
	}
	if _, second := partWritten(t, lines[1]); !chunks[0].received.Before(second) {
		t.Errorf("part 1 arrived at %s, after part 2 was written (%s): not streamed", chunks[0].received.Format(time.StampMilli), second.Format(time.StampMilli))
	}
}
