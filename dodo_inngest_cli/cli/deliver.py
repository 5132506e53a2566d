"""Commands that deliver to Inngest or receive from Dodo: `send`, `replay`, `listen`, `verify`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ExitCode
from .options import (
    BaseUrlOpt,
    Command,
    ConfigOpt,
    DevOpt,
    DodoCheckOpt,
    EnvOpt,
    EventGlobOpt,
    EventKeyOpt,
    Format,
    FormatOpt,
    FunctionsOpt,
    IgnoreOpt,
    InngestEnvOpt,
    MemoryLimitOpt,
    PythonOpt,
    RetriesOpt,
    SecretOpt,
    StrictOpt,
    TimeLimitOpt,
    TimeoutOpt,
    UrlOpt,
    choices,
)


def _limits(*, retries: int, timeout: float) -> None:
    from ..errors import in_range

    in_range("--retries", retries, 0, 20)
    in_range("--timeout", timeout, 0.1, 600, "seconds")


def send(
    ctx: typer.Context,
    samples: Annotated[list[str] | None, typer.Argument(
        metavar="PAYLOAD", help="Dodo payloads to transform and send: .json files, "
                                     "folders, or bundled sample names.",
        show_default=False)] = None,
    transform: Annotated[Path | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="The Dodo transform to run first.",
        show_default=False)] = None,
    events_file: Annotated[Path | None, typer.Option(
        "--event", metavar="FILE",
        help="Send ready Inngest events from this JSON file (an object or an array).",
        show_default=False)] = None,
    url: UrlOpt = None,
    event_key: EventKeyOpt = None,
    base_url: BaseUrlOpt = None,
    dev: DevOpt = False,
    inngest_env: InngestEnvOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the exact requests (key masked) and send nothing; needs no "
                          "key.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Send even when checks find errors.")] = False,
    batch: Annotated[int, typer.Option(
        "--batch", metavar="N", help="Send up to N events per request, as one array (at most "
                                     "5,000).")] = 1,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = 10.0,
    wait: Annotated[float, typer.Option(
        "--wait", metavar="SECONDS",
        help="With --dev: wait this long for function runs and show them.")] = 0.0,
    inngest_spec: Annotated[str | None, typer.Option(
        "--inngest-transform", metavar="FILE|default",
        help="Run an Inngest webhook transform after Dodo's, showing the event Inngest "
             "stores.", show_default=False)] = None,
    output_format: FormatOpt = Format.text,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    time_limit: TimeLimitOpt = None,
    memory_limit: MemoryLimitOpt = None,
    env: EnvOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Transform payloads (or take ready events), check them, and send them to Inngest.

    Checks run first: an error finding blocks the send unless --force. Network errors, 5xx
    and 429 are retried with backoff; other 4xx are not. The event key is masked in all
    output.

    Examples:

    \b
      dodo-inngest send --dev -t payment.js payment.succeeded
      dodo-inngest send --url "https://inn.gs/e/$INNGEST_EVENT_KEY" -t payment.js webhooks/
      dodo-inngest send --event events.json --dry-run
      dodo-inngest send --dev --wait 10 -t payment.js payment.succeeded
    """
    from ..client import EventClient, resolve_target
    from ..config import load_config
    from ..errors import InputError, in_range
    from ..plan import checks, load_transform, payloads
    from ..sending import from_events, from_webhooks, inngest_transform, read_events_file
    from ..sending import send as send_all
    from .interrupt import interruptible
    from .output import Output
    from .views import print_send

    _limits(retries=retries, timeout=timeout)
    in_range("--batch", batch, 1, 5000)
    in_range("--wait", wait, 0, 3600, "seconds")
    config_ = load_config(config)
    chosen = choices(ignore=ignore, strict=strict, dodo_check=dodo_check,
                     time_limit=time_limit, memory_limit=memory_limit, env=env)
    checks_ = checks(config_, chosen)
    target = resolve_target(url=url, event_key=event_key, base_url=base_url,
                            dev=True if dev else None, env=inngest_env, dry_run=dry_run)
    if wait and not target.dev:
        raise InputError("--wait looks the runs up on the Dev Server: it needs --dev (or "
                         "INNGEST_DEV)", hint="Inngest Cloud shows runs in its dashboard")
    if (transform is None) == (events_file is None):
        raise InputError("give either -t TRANSFORM with payloads, or --event FILE",
                         hint="dodo-inngest send --dev -t payment.js payment.succeeded")
    if events_file is not None:
        if samples:
            raise InputError("--event FILE sends ready events; it takes no payloads",
                             hint="drop the payload arguments, or use -t TRANSFORM")
        prepared = from_events(read_events_file(events_file), str(events_file), checks_, target)
    else:
        assert transform is not None
        if not samples:
            raise InputError("no payload to send",
                             hint="name .json files or folders, or bundled samples such as "
                                  "payment.succeeded")
        prepared = from_webhooks(load_transform(transform, config_, chosen), payloads(samples),
                                 checks_, target, inngest_transform(inngest_spec))
    output = Output()
    log = None
    if (ctx.obj or {}).get("debug"):
        def log(line: str) -> None:
            output.err.print(f"debug: {line}", soft_wrap=True)
    with interruptible() as cancel:
        client = None if dry_run else EventClient(timeout=timeout, retries=retries,
                                                  cancel=cancel, log=log)
        try:
            report = send_all(prepared, target, client, batch=batch, force=force,
                              wait_s=wait, cancel=cancel)
        finally:
            if client is not None:
                client.close()
    if output_format is Format.json:
        output.report(report.to_json())
    else:
        print_send(output, report)
    return report.exit_code


def replay(
    captures: Annotated[list[Path], typer.Argument(
        metavar="CAPTURE", help="Capture files (.jsonl), payload files (.json), or folders "
                                   "of them.", show_default=False)],
    transform: Annotated[Path, typer.Option(
        "--transform", "-t", metavar="FILE", help="The Dodo transform.", show_default=False)],
    url: UrlOpt = None,
    event_key: EventKeyOpt = None,
    base_url: BaseUrlOpt = None,
    dev: DevOpt = False,
    inngest_env: InngestEnvOpt = None,
    secret: SecretOpt = None,
    allow_unverified: Annotated[bool, typer.Option(
        "--allow-unverified", help="With a secret: send deliveries that fail verification "
                                   "too.")] = False,
    event: EventGlobOpt = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="TIME", help="Only events at or after this Dodo event time "
                                        "(ISO-8601).", show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME", help="Only events before this Dodo event time.",
        show_default=False)] = None,
    delivery_id: Annotated[list[str] | None, typer.Option(
        "--id", metavar="WEBHOOK_ID", help="Only this delivery (repeatable).",
        show_default=False)] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", metavar="N", help="Requests in flight (1–64).")] = 4,
    rate: Annotated[float | None, typer.Option(
        "--rate", metavar="N", help="At most N deliveries a second.", show_default=False)]
    = None,
    batch: Annotated[int, typer.Option(
        "--batch", metavar="N",
        help="Events per request, sent as one array (1: each delivery alone, as Dodo "
             "does).")] = 20,
    state: Annotated[Path | None, typer.Option(
        "--state", metavar="FILE",
        help="The replay state file (default: .dodo-inngest-replay-state.jsonl in the "
             "captures' folder).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Send again what the state file says was accepted.")] = False,
    no_assign_id: Annotated[bool, typer.Option(
        "--no-assign-id", help="Do not give events without an id one derived from the "
                               "delivery.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Transform and check; send nothing, record nothing; needs no key.")]
    = False,
    show_output: Annotated[bool, typer.Option(
        "--show-output", help="With --dry-run: print each request it would make.")] = False,
    functions: FunctionsOpt = None,
    python: PythonOpt = None,
    output_format: FormatOpt = Format.text,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = 10.0,
    ignore: IgnoreOpt = None,
    strict: StrictOpt = None,
    dodo_check: DodoCheckOpt = None,
    env: EnvOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Replay captured deliveries through a transform to Inngest, exactly once per target.

    A state file records what each delivery did per target, so running again sends only what
    is not yet accepted (Ctrl-C and crashes lose nothing); --force sends again. Events
    without an id get one derived from the delivery, so Inngest de-duplicates them too.

    Examples:

    \b
      dodo-inngest replay deliveries.jsonl -t payment.js --dev
      dodo-inngest replay deliveries.jsonl -t payment.js --dry-run --show-output
      dodo-inngest replay deliveries.jsonl -t payment.js --dry-run --functions app:client
      dodo-inngest replay deliveries.jsonl -t payment.js \\
          --url "https://inn.gs/e/$INNGEST_EVENT_KEY" --event 'payment.*' --since 2026-03-01
    """
    from ..capture import count_deliveries, load_secret, read_deliveries
    from ..client import EventClient, resolve_target
    from ..config import load_config
    from ..errors import InputError, in_range
    from ..pipeline import Expectations
    from ..plan import checks, function_stage, load_transform
    from ..relay import Batch, Dispatch
    from ..replay import (
        Replay,
        StateFile,
        check_state_path,
        default_state_path,
        filters_from,
    )
    from .interrupt import interruptible
    from .output import Output, animated
    from .views import ReplayView

    _limits(retries=retries, timeout=timeout)
    in_range("--concurrency", concurrency, 1, 64)
    in_range("--batch", batch, 1, 5000)
    if rate is not None:
        in_range("--rate", rate, 0.01, 100_000, "a second")
    if functions and not dry_run:
        raise InputError("--functions runs your functions locally, so it needs --dry-run",
                         hint="a real replay sends the events and Inngest runs the functions")
    config_ = load_config(config)
    chosen = choices(ignore=ignore, strict=strict, dodo_check=dodo_check, env=env)
    target = resolve_target(url=url, event_key=event_key, base_url=base_url,
                            dev=True if dev else None, env=inngest_env, dry_run=dry_run)
    filters = filters_from(event or (), since, until, delivery_id or ())
    signer = load_secret(secret) if secret else None
    loaded = load_transform(transform, config_, chosen)
    output = Output()
    total = count_deliveries(captures) if animated(output.err) else 0  # only a bar needs it
    batches: list[Batch] = []
    view = ReplayView(output, total, target.label, show_output=show_output
                      and output_format is Format.text)
    state_file = None
    if not dry_run:
        state_path = state or default_state_path(captures)
        check_state_path(state_path, captures)
        state_file = StateFile(state_path)
    stage = function_stage(config_, functions or (), python)
    with interruptible() as cancel:
        client = None if dry_run else EventClient(timeout=timeout, retries=retries,
                                                  cancel=cancel)
        run = Replay(loaded, target, checks(config_, chosen), client, state_file,
                     filters=filters, signer=signer, allow_unverified=allow_unverified,
                     force=force, assign_id=not no_assign_id, concurrency=concurrency,
                     rate=rate, batch=batch, cancel=cancel,
                     expect=Expectations(functions=stage) if stage else None)
        deliveries: list[dict[str, object]] = []

        def on_dispatch(dispatch: Dispatch) -> None:
            view.add(dispatch)
            if output_format is Format.json:
                deliveries.append({"delivery": dispatch.key, "source": dispatch.source,
                                   "event_type": dispatch.event_type,
                                   "outcome": dispatch.outcome.value, "ids": dispatch.ids,
                                   "reason": dispatch.reason})

        try:
            with view:
                on_batch = batches.append if output_format is Format.json else view.request
                report = run.run(read_deliveries(captures), on_dispatch, on_batch)
        finally:
            if client is not None:
                client.close()
            if state_file is not None:
                state_file.close()
            if stage is not None:
                stage.close()
    filters.check_matched(report)
    if output_format is Format.json:
        from .views import request_text

        output.report({"version": 1, "target": target.url, "dry_run": dry_run,
                       **report.to_json(), "deliveries": deliveries,
                       "requests": [{"method": b.method, "url": b.url, "headers": b.headers,
                                     "payload": b.payload, "text": request_text(b)}
                                    for b in batches]})
    else:
        view.summary(report)
    if report.abandoned:  # a request stuck in a read holds a worker thread until its timeout:
        output.stdout.flush()  # what is recorded is on disk, what is shown is written; go now
        output.stderr.flush()
        os._exit(report.exit_code)
    return report.exit_code


def listen(
    transform: Annotated[Path | None, typer.Option(
        "--transform", "-t", metavar="FILE", help="The Dodo transform (with --forward).",
        show_default=False)] = None,
    host: Annotated[str, typer.Option("--host", metavar="ADDRESS",
                                      help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT",
                                      help="The port (0: any free one).")] = 8787,
    path: Annotated[str, typer.Option("--path", metavar="PATH",
                                      help="The path Dodo posts to.")] = "/",
    secret: SecretOpt = None,
    capture: Annotated[Path | None, typer.Option(
        "--capture", metavar="FILE",
        help="Append each accepted delivery to this capture file (JSON Lines).",
        show_default=False)] = None,
    forward: Annotated[bool, typer.Option(
        "--forward", help="Transform and send each delivery to Inngest as it arrives.")]
    = False,
    ack_after_forward: Annotated[bool, typer.Option(
        "--ack-after-forward",
        help="Answer 502 when forwarding fails, so Dodo retries (default: acknowledge once "
             "captured).")] = False,
    body_limit: Annotated[int, typer.Option(
        "--body-limit", metavar="BYTES", help="Larger bodies get 413.")] = 1024 * 1024,
    url: UrlOpt = None,
    event_key: EventKeyOpt = None,
    base_url: BaseUrlOpt = None,
    dev: DevOpt = False,
    inngest_env: InngestEnvOpt = None,
    retries: RetriesOpt = 5,
    timeout: TimeoutOpt = 10.0,
    env: EnvOpt = None,
    config: ConfigOpt = None,
) -> int:
    """Receive real Dodo deliveries: verify signatures, capture them, optionally forward them.

    Point a tunnel (ngrok, cloudflared) at it and add the tunnel's URL as a Dodo webhook
    endpoint. Set DODO_PAYMENTS_WEBHOOK_KEY to verify signatures. Ctrl-C finishes what is
    in flight and prints a summary.

    Examples:

    \b
      dodo-inngest listen --capture deliveries.jsonl
      dodo-inngest listen --capture d.jsonl --forward -t payment.js --dev
    """
    import contextlib

    from ..cancel import Cancel, Interrupted
    from ..capture import CaptureWriter, load_secret
    from ..client import EventClient, resolve_target
    from ..config import load_config
    from ..errors import InputError, in_range
    from ..listener import Listener, ListenerConfig
    from ..plan import checks, load_transform
    from ..relay import Relay
    from .interrupt import interruptible
    from .output import Output
    from .views import ListenView

    _limits(retries=retries, timeout=timeout)
    in_range("--port", port, 0, 65535)
    in_range("--body-limit", body_limit, 1, 100 * 1024 * 1024, "bytes")
    config_ = load_config(config)
    if forward and transform is None:
        raise InputError("--forward needs -t TRANSFORM", hint="add -t payment.js")
    signer = load_secret(secret) if secret else None
    chosen = choices(env=env)
    output = Output()
    view = ListenView(output.out)
    abort = Cancel()  # a second Ctrl-C: forwards still pending give up at once
    client = None
    relay = None
    target = None
    if forward and transform is not None:
        target = resolve_target(url=url, event_key=event_key, base_url=base_url,
                                dev=True if dev else None, env=inngest_env)
        client = EventClient(timeout=timeout, retries=retries, cancel=abort)
        relay = Relay(load_transform(transform, config_, chosen), target,
                      checks(config_, chosen), client, cancel=abort)
    writer = CaptureWriter(capture) if capture is not None else None
    listener = Listener(host, port, ListenerConfig(
        path=path if path.startswith("/") else "/" + path, signer=signer, capture=writer,
        forward=relay, ack_after_forward=ack_after_forward or (forward and writer is None),
        body_limit=body_limit), view.add)
    # A delivery answered 2xx was captured; its forward runs in the background and its
    # outcome reaches the view when it is known (or at stop, as not forwarded). Without a
    # capture, a forward that failed could not be replayed: the answer waits for it.
    try:
        with interruptible(raising=False, again=abort) as stop:
            listener.start()
            view.started(listener.address + listener.config.path, verified=signer is not None,
                         capture=capture, forwarding=target.label if target else None,
                         waits=forward and not ack_after_forward and writer is None)
            with view:
                with contextlib.suppress(Interrupted):
                    while True:
                        stop.sleep(3600)  # until Ctrl-C or SIGTERM
                view.stopping(listener.pending_forwards(), listener.config.drain_s)
                listener.stop(abort)  # inside the view: forwards settled now still show
    finally:
        listener.stop()
        if writer is not None:
            writer.close()
        if client is not None:
            client.close()
    view.summary()
    return ExitCode.OK


def verify(
    captures: Annotated[list[Path], typer.Argument(
        metavar="CAPTURE", help="Capture files (.jsonl) or folders of them.",
        show_default=False)],
    secret: SecretOpt = None,
    tolerance: Annotated[float | None, typer.Option(
        "--tolerance", metavar="SECONDS",
        help="Also require the signature time within this many seconds of now (off: "
             "captures are old).", show_default=False)] = None,
    output_format: FormatOpt = Format.text,
) -> int:
    """Check the Standard Webhooks signatures of captured deliveries.

    Examples:

    \b
      DODO_PAYMENTS_WEBHOOK_KEY=whsec_… dodo-inngest verify deliveries.jsonl
    """
    from ..capture import check_capture_path, load_secret, verify_all
    from ..errors import InputError, in_range
    from .output import Output
    from .views import print_verify

    for path in captures:  # a wrong path first: it is what the user typed last
        check_capture_path(path)
    if not secret:
        raise InputError("verify needs the webhook secret",
                         hint="set DODO_PAYMENTS_WEBHOOK_KEY=whsec_… (or --secret)")
    if tolerance is not None:
        in_range("--tolerance", tolerance, 0, 10 * 365 * 86400, "seconds")
    report = verify_all(captures, load_secret(secret), tolerance_s=tolerance)
    output = Output()
    if output_format is Format.json:
        output.report(report.to_json())
    else:
        print_verify(output, report.rows, report.counts())
    return report.exit_code


def register(app: typer.Typer) -> None:
    """Add the delivering commands to the app."""
    for command, short in (
            (send, "Transform payloads and send them to Inngest."),
            (replay, "Replay captured deliveries to Inngest, exactly once."),
            (listen, "Receive, verify and capture real Dodo deliveries."),
            (verify, "Check the signatures of captured deliveries.")):
        app.command(cls=Command, short_help=short)(command)
