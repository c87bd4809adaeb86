"""The order of the stages, in one list, and the loop that runs them fail-closed."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial

from openclaw_secure_stack.audit.sink import AuditSink
from openclaw_secure_stack.detect import load_configured_detector
from openclaw_secure_stack.governance.desk import ApprovalDesk
from openclaw_secure_stack.governance.store import SqliteStore
from openclaw_secure_stack.proxy.approvals import Approvals
from openclaw_secure_stack.proxy.audit import Audit, AuditGate, Intent
from openclaw_secure_stack.proxy.auth import Auth
from openclaw_secure_stack.proxy.flow import ClientGone, Flow, Reject, Response, Stage
from openclaw_secure_stack.proxy.forward import Forward
from openclaw_secure_stack.proxy.frames import Frames
from openclaw_secure_stack.proxy.probes import Probes
from openclaw_secure_stack.proxy.routes import Routes, load_route_table
from openclaw_secure_stack.proxy.sanitize import Sanitize
from openclaw_secure_stack.proxy.scan_response import ScanResponse
from openclaw_secure_stack.proxy.session import BindSession
from openclaw_secure_stack.proxy.upstream import Upstream
from openclaw_secure_stack.settings import ProxyConfig
from openclaw_secure_stack.webhooks.routes import Clock, mount

log = logging.getLogger(__name__)


def default_stages(
    config: ProxyConfig, audit: AuditSink, upstream: Upstream, *, clock: Clock = time.time
) -> list[Stage]:
    """The pipeline, in order. Request stages first; `Intent` makes the audit record durable
    before `Forward` turns the request into the upstream's response; then response stages;
    `Audit` last so it sees the final outcome. When a phone relay is configured, `Webhooks`
    comes first: it answers its own two paths, and the messages it relays pass every stage
    after client auth (`clock` is its wall clock, for replay expiry and rate limits).
    Loading the detection rules and the classifier fails closed: a bad rules file or model
    raises `RulesError` (`ClassifierError` is one)."""
    detection = config.detection
    detector = load_configured_detector(detection)
    gate = AuditGate(audit)
    governance = config.governance
    desk = ApprovalDesk(SqliteStore(governance.db_path), gate, governance.approvers)
    after_auth: list[Stage] = [
        Sanitize(detector, thread_threshold=detection.thread_threshold_bytes),
        Frames(detector, gate, upstream, thread_threshold=detection.thread_threshold_bytes),
        BindSession(),
        # Governance (later issue) goes here; relayed phone messages pass it too.
        Intent(gate),
        Forward(upstream),
        ScanResponse(
            detector,
            thread_threshold=detection.thread_threshold_bytes,
            max_buffer=detection.response_scan_buffer_bytes,
        ),
        Audit(gate),
    ]
    webhooks = (
        []
        if config.webhooks is None
        else [mount(config.webhooks, gate, partial(run_stages, after_auth), clock=clock)]
    )
    return [
        *webhooks,
        Auth(config.client_digests),
        Probes(upstream, gate),
        # Answers /governance/approvals itself (approver tokens only), before the route table.
        Approvals(desk),
        Routes(load_route_table(config.routes)),
        *after_auth,
    ]


async def run_stages(stages: Sequence[Stage], flow: Flow) -> None:
    """Run each stage in order. Once the flow is answered only `sees_answered` stages run.

    A stage that raises denies the request (the opposite of passing it on): `Reject` becomes its
    own status, anything else a 500 naming the stage. A request body that broke off (the client
    left, or sent a malformed chunk: the server cannot tell them apart) is a 400. The audit
    stage still sees the denial.
    """
    for stage in stages:
        if flow.response is not None and not stage.sees_answered:
            continue
        try:
            await stage(flow)
        except Reject as exc:
            flow.response = Response.error(exc.status, exc.code, exc.message)
            flow.notes["denied"] = exc.code
            flow.notes.setdefault("denied_by", stage.name)
        except ClientGone:
            message = "the request body broke off before it was complete; nothing was forwarded"
            flow.deny(400, "incomplete_body", message)
            flow.notes.setdefault("denied_by", stage.name)
        except Exception as exc:
            log.exception("stage %s failed on request %s", stage.name, flow.request_id)
            flow.deny(500, "stage_failed", f"the {stage.name} stage failed; request blocked")
            flow.notes["stage_error"] = f"{stage.name}: {type(exc).__name__}"
