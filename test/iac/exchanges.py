#!/usr/bin/env python3
"""Print the Lambda API exchanges recorded in OpenTofu debug logs.

Usage: exchanges.py LOG...   (the TF_LOG=DEBUG files run.sh writes)

One line per call: operation, method, path, status and, on errors, the
x-amzn-ErrorType header. The provider masks request and response bodies
in its logs (http.request.body="***"), so error messages are in tofu's own
output, not here.
"""
import re
import shlex
import sys
from collections import defaultdict, deque

FIELD = re.compile(r'(\S+?)=("(?:[^"\\]|\\.)*"|\S*)')


def fields(line):
    out = {}
    for k, v in FIELD.findall(line):
        if v.startswith('"'):
            try:
                v = shlex.split(v)[0]
            except ValueError:
                v = v.strip('"')
        out[k] = v
    return out


for path in sys.argv[1:]:
    print(f"--- {path}")
    pending = defaultdict(deque)
    for line in open(path, errors="replace"):
        if "HTTP Request Sent" in line:
            f = fields(line)
            key = (f.get("tf_req_id"), f.get("rpc.method"))
            url = re.sub(r"^https?://[^/]+", "", f.get("http.url", ""))
            pending[key].append((f.get("http.method", "?"), url))
        elif "HTTP Response Received" in line:
            f = fields(line)
            key = (f.get("tf_req_id"), f.get("rpc.method"))
            method, url = pending[key].popleft() if pending[key] else ("?", "?")
            op = (f.get("rpc.method") or "?").split("/")[-1]
            status = f.get("http.status_code", "?")
            err = f.get("http.response.header.x_amzn_errortype", "")
            print(f"{op:28} {method:6} {url} -> {status} {err}".rstrip())
