"""The bundled sample library: one realistic Dodo body per event type, plus edge-case variants."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import write_new_files
from .models import Webhook, event_type_of, matches
from .sources import parse_webhook, shown

ABOUT = {
    "payment.succeeded": "A payment was captured.",
    "payment.failed": "A payment attempt failed (declined card, expired method).",
    "payment.processing": "A payment is being processed (bank transfers, 3-D Secure).",
    "payment.cancelled": "A payment was cancelled before it completed.",
    "refund.succeeded": "A refund reached the customer.",
    "refund.failed": "A refund could not be processed.",
    "dispute.opened": "A customer opened a dispute (chargeback).",
    "dispute.expired": "A dispute expired without a response.",
    "dispute.accepted": "The merchant accepted a dispute.",
    "dispute.cancelled": "The customer withdrew a dispute.",
    "dispute.challenged": "The merchant challenged a dispute with evidence.",
    "dispute.won": "The dispute was decided for the merchant.",
    "dispute.lost": "The dispute was decided for the customer.",
    "subscription.active": "A subscription started and is active.",
    "subscription.renewed": "A subscription renewed for another period.",
    "subscription.on_hold": "A subscription was put on hold after a failed renewal.",
    "subscription.past_due": "A renewal payment is overdue; access continues for now.",
    "subscription.paused": "A subscription was paused.",
    "subscription.unpaused": "A paused subscription resumed.",
    "subscription.cancelled": "A subscription was cancelled.",
    "subscription.failed": "A subscription could not start (no mandate).",
    "subscription.expired": "A subscription reached the end of its term.",
    "subscription.plan_changed": "A subscription moved to another product or price.",
    "subscription.updated": "A subscription's details changed (quantity, metadata).",
    "subscription.update_payment_method": "A subscription's payment method changed.",
    "license_key.created": "A license key was issued for a purchase.",
    "payout.created": "A payout to the merchant was created.",
    "payout.on_hold": "A payout is held for verification.",
    "payout.in_progress": "A payout is on its way to the bank.",
    "payout.failed": "A payout failed.",
    "payout.success": "A payout reached the merchant's bank.",
    "credit.added": "Credits were added to a customer's balance.",
    "credit.deducted": "Credits were used.",
    "credit.expired": "Unused credits expired.",
    "credit.rolled_over": "Unused credits rolled over into the new period.",
    "credit.rollover_forfeited": "Credits beyond the rollover cap were forfeited.",
    "credit.overage_charged": "Usage beyond the balance was charged as overage.",
    "credit.overage_reset": "The overage was settled and reset.",
    "credit.manual_adjustment": "The merchant adjusted a balance by hand.",
    "credit.balance_low": "A credit balance fell below its threshold.",
    "abandoned_checkout.detected": "A checkout was abandoned.",
    "abandoned_checkout.recovered": "An abandoned checkout was recovered.",
    "dunning.started": "Dunning started for a subscription whose payment failed.",
    "dunning.recovered": "Dunning recovered the payment.",
    "entitlement_grant.created": "An entitlement grant was created (e.g. a Discord role).",
    "entitlement_grant.delivered": "An entitlement was delivered to the customer.",
    "entitlement_grant.failed": "An entitlement could not be delivered.",
    "entitlement_grant.revoked": "An entitlement was revoked (refund, cancellation).",
}


@dataclasses.dataclass(frozen=True)
class Sample:
    """One bundled sample: its name, event type, file, and what it is or exercises."""

    name: str
    event_type: str
    path: Path
    about: str
    variant: bool

    @property
    def family(self) -> str:
        """The event family: `payment` for `payment.succeeded`."""
        return self.event_type.split(".", 1)[0]


@functools.cache
def bundled(folder: str) -> Path:
    """A bundled samples folder (`webhooks`, `transforms`): inside the package when
    installed, else the repository's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "samples" / folder, here.parent / "samples" / folder):
        if candidate.is_dir():
            return candidate
    raise InputError("the bundled samples are missing from this installation",
                     hint="reinstall dodo-inngest")


def library_root() -> Path:
    """The folder of bundled webhook bodies."""
    return bundled("webhooks")


def samples(*, variants: bool = True) -> list[Sample]:
    """Every bundled sample, event types first (alphabetical), then the variants."""
    root = library_root()
    found = [Sample(path.stem, path.stem, path, ABOUT.get(path.stem, ""), False)
             for path in sorted(root.glob("*.json"))]
    if variants:
        for path in sorted((root / "variants").glob("*.json")):
            about = path.with_suffix(".txt")
            event_type = event_type_of(path.read_text(encoding="utf-8"))
            found.append(Sample(path.stem, event_type, path,
                                about.read_text(encoding="utf-8").strip() if about.exists() else "",
                                True))
    return found


def find(name: str) -> Sample:
    """A sample by event type or variant name; an unknown name is an InputError."""
    known = {sample.name: sample for sample in samples()}
    if name in known:
        return known[name]
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    raise InputError(f"no bundled sample named '{name}'",
                     hint=(f"did you mean '{close[0]}'? " if close else "")
                     + "'dodo-inngest samples list' shows them all")


def load(name: str, overrides: Sequence[str] = ()) -> Any:
    """A sample's body as JSON, with `path=value` overrides applied."""
    body = json.loads(find(name).path.read_text(encoding="utf-8"))
    apply_overrides(body, overrides)
    return body


def apply_overrides(body: Any, overrides: Sequence[str]) -> None:
    """Apply `path=value` overrides (as `--set` takes them) to a body, in place."""
    for item in overrides:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise InputError(f"--set {item!r}: expected PATH=VALUE",
                             hint="e.g. --set data.currency=JPY")
        apply_override(body, path, _parse_value(raw))


def apply_override(body: Any, path: str, value: Any) -> None:
    """Set an existing field, named by a dotted path (`data.customer.name`, `data.items.0.id`)."""
    parts = path.split(".")
    target = body
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(target, dict) and part in target:
            if last:
                target[part] = value
            else:
                target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            if last:
                target[int(part)] = value
            else:
                target = target[int(part)]
        else:
            raise InputError(f"--set {path}: the sample has no field '{where}'",
                             hint="--set changes existing fields; 'dodo-inngest samples show "
                                  "TYPE' prints them")


def _parse_value(raw: str) -> Any:
    """JSON when the text is JSON (`5000`, `null`, `{"a":1}`), else the text itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def export(folder: Path, *, events: Sequence[str] = (), variants: bool = False,
           force: bool = False) -> list[Path]:
    """Copy the bundled samples into folder; existing files are kept unless force."""
    chosen = [s for s in samples(variants=variants) if not events or matches(s.event_type, events)]
    if not chosen:
        raise InputError(f"no bundled sample matches --event {' '.join(events)}",
                         hint="event types look like payment.succeeded; try 'payment.*'")
    files: dict[Path, str | bytes] = {
        folder / ("variants" if s.variant else "") / s.path.name: s.path.read_bytes()
        for s in chosen}
    return write_new_files(files, force=force,
                           hint="choose an empty folder, or --force to overwrite")


def webhooks() -> list[Webhook]:
    """The whole library as Webhooks, variants included."""
    return [read(s.path) for s in samples()]


def read(path: Path) -> Webhook:
    """A bundled payload file as a Webhook, marked as the library's."""
    webhook = parse_webhook(path.read_bytes(), source=str(shown(path)), name=path.stem)
    return dataclasses.replace(webhook, bundled=True)
