package sigv4

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ReadCredentialsFile reads the access keys of several users from a file in
// the AWS shared-credentials format, one section per user:
//
//	[alice]
//	aws_access_key_id = AKIA...
//	aws_secret_access_key = ...
//
// Every section must have both keys; an access key id may appear once.
func ReadCredentialsFile(r io.Reader) (StaticCredentials, error) {
	creds := StaticCredentials{}
	type section struct{ name, id, secret string }
	var cur *section
	flush := func() error {
		if cur == nil {
			return nil
		}
		if cur.id == "" || cur.secret == "" {
			return fmt.Errorf("credentials section [%s] needs aws_access_key_id and aws_secret_access_key", cur.name)
		}
		if _, dup := creds[cur.id]; dup {
			return fmt.Errorf("access key id %s appears twice", cur.id)
		}
		creds[cur.id] = cur.secret
		return nil
	}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || strings.HasPrefix(text, "#") || strings.HasPrefix(text, ";"):
		case strings.HasPrefix(text, "[") && strings.HasSuffix(text, "]"):
			if err := flush(); err != nil {
				return nil, err
			}
			cur = &section{name: strings.TrimSpace(text[1 : len(text)-1])}
		default:
			k, v, ok := strings.Cut(text, "=")
			if !ok || cur == nil {
				return nil, fmt.Errorf("credentials line %d: want key = value inside a [section]", line)
			}
			switch strings.TrimSpace(k) {
			case "aws_access_key_id":
				cur.id = strings.TrimSpace(v)
			case "aws_secret_access_key":
				cur.secret = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("no credentials in the file")
	}
	return creds, nil
}
