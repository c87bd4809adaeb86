"""A worker process for the audit tests: appends events and acknowledges each one on stdout.

Usage: python writer_process.py LOG_PATH ROTATE_BYTES COUNT WORKER [PAUSE]
(COUNT < 0: until killed; PAUSE: seconds between events, to bound how fast the log grows)
Prints `ack <request_id>` only after `AuditLog.write` has returned for that event.
"""

import sys
import time
from pathlib import Path

from openclaw_secure_stack.audit.log import AuditLog
from openclaw_secure_stack.audit.sink import AuditEvent
from openclaw_secure_stack.audit.testing import TEST_KEY


def main() -> None:
    path, rotate_bytes, count, worker = sys.argv[1:5]
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    log = AuditLog(Path(path), TEST_KEY, int(rotate_bytes))
    number = 0
    while int(count) < 0 or number < int(count):
        request_id = f"{worker}-{number}"
        log.write(AuditEvent("test.burst", "allow", worker, request_id, {"n": number}))
        print("ack", request_id, flush=True)
        number += 1
        if pause:
            time.sleep(pause)


if __name__ == "__main__":
    main()
