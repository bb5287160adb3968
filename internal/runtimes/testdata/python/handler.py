"""The handler of the Python client test (clients_test.go)."""
import logging
import os
import time


def barrier(event):
    """Waits until event["want"] invokes have arrived in event["dir"]; returns how many it saw."""
    os.makedirs(event["dir"], exist_ok=True)
    open(os.path.join(event["dir"], str(event["n"])), "w").close()
    end = time.time() + 20
    seen = 0
    while time.time() < end:
        seen = len(os.listdir(event["dir"]))
        if seen >= event["want"]:
            break
        time.sleep(0.02)
    return seen


def handler(event, context):
    logging.getLogger().info("handling %s", event["n"])
    if event.get("fail"):
        raise ValueError("bad %d" % event["n"])
    seen = barrier(event) if event.get("dir") else 0
    return {
        "n": event["n"],
        "seen": seen,
        "requestId": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "worker": str(os.getpid()),
    }
