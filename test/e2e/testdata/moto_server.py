"""moto_server with one fix: an SQS ReceiveMessage is atomic per queue.

moto checks a message's visibility and marks it received without a lock,
so two ReceiveMessage calls on the same queue at once (a mapping's five
pollers) can both be handed one message (getmoto/moto#519; seen in CI as
a message received twice, both times with ApproximateReceiveCount 2).
Real SQS is at-least-once too, but not that way: the tests count what
Paddock delivers, so the queue they read from must not invent duplicates.
Receives on one queue wait for each other; sends and deletes do not.
"""

import sys
import threading

from moto.server import main
from moto.sqs.models import SQSBackend

_locks: dict = {}
_guard = threading.Lock()
_receive = SQSBackend.receive_message


def _receive_atomically(self, queue_name, *args, **kwargs):
    with _guard:
        lock = _locks.setdefault((id(self), queue_name), threading.Lock())
    with lock:
        return _receive(self, queue_name, *args, **kwargs)


SQSBackend.receive_message = _receive_atomically

if __name__ == "__main__":
    sys.exit(main())
