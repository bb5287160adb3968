"""Paddock's Python example, for python3.13 and python3.14: handlers of one
module (Handler handler.handler, handler.echo, handler.io or handler.cpu),
written as any Lambda function is, on AWS's own runtime client
(awslambdaric)."""
import json
import logging
import os
import sys
import threading
import time

logger = logging.getLogger()


def handler(event, context):
    """Returns its event unchanged (the invoke benchmark's echo)."""
    return event


def echo(event, context):
    """Answers with its event and what the runtime told it. A few fields of
    the event make it fail ({"error": "..."}), crash ({"crash": true}), wait
    ({"sleepMs": 5000}), or import a module from a layer ({"import": "name"},
    found on PYTHONPATH under /opt/python)."""
    if "error" in event:
        raise ValueError(event["error"])
    if event.get("crash"):
        os._exit(3)
    if event.get("sleepMs"):
        time.sleep(event["sleepMs"] / 1000)
    out = {
        "event": event,
        "requestId": context.aws_request_id,
        "functionArn": context.invoked_function_arn,
        "memoryLimitInMB": int(context.memory_limit_in_mb),
        "remainingMs": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "python": "%d.%d" % sys.version_info[:2],
    }
    if "import" in event:
        out["imported"] = __import__(event["import"]).hello()
    logger.info("echoed %s", json.dumps(event))
    return out


def io(event, context):
    """Waits as an I/O-bound handler does (a call to another service): on
    Lambda Managed Instances each concurrent request has a process of its
    own."""
    started = time.time()
    time.sleep(event.get("ms", 200) / 1000)
    return {"pid": os.getpid(), "started": started, "ended": time.time()}


def cpu(event, context):
    """Counts the primes below n, a CPU-bound handler."""
    n = event.get("n", 200000)
    count = 0
    for i in range(2, n):
        d = 2
        while d * d <= i:
            if i % d == 0:
                break
            d += 1
        else:
            count += 1
    return {"n": n, "primes": count, "pid": os.getpid()}
