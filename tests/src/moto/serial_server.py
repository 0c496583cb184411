"""moto's server, answering one request at a time, as DynamoDB's conditions assume.

moto serves each request on its own thread, and its DynamoDB is not safe for that:
`TransactWriteItems` checks every condition, then writes, with nothing held in between, so two
concurrent transactions conditioned on the same revision can both succeed; and a cancelled one
puts back a copy of the whole table taken before it started, undoing whatever other requests
wrote meanwhile. Deckhand's concurrent-redelivery tests then saw a state change made two and
three times, which real DynamoDB never allows. Holding one lock around each request makes every
call atomic, as AWS's are. Started by the test harness (tests/src/lib.rs) with moto_server's
own interpreter and arguments.
"""

import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _one_at_a_time(self, environ, start_response):
    with _lock:
        body = _dispatch(self, environ, start_response)
        try:
            # The whole answer is made under the lock: a streamed body is still moto's code.
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


DomainDispatcherApplication.__call__ = _one_at_a_time

if __name__ == "__main__":
    server.main()
