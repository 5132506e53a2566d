"""Reducing a failing payload to the smallest change to a reference payload that still fails.

The reference is the bundled sample of the event type, so what a user reads is the one or two
changes to a realistic payload that break the transform (`- /data/payment_method: "card"`).
The reduction walks the two JSON trees together: each differing subtree is first replaced by
the reference's whole, then, if the failure needs it, entered; an object's differing keys are
undone in groups, halving, so the one that matters is found in a few tries; extra list items
are dropped, missing ones restored; a value that must stay different is shortened (strings)
or moved toward zero (numbers). Passes repeat until one changes nothing, so no single difference
left can be undone or simplified while the payload still fails.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .snapshots import diff

MISSING = object()
"""Stands for an absent object key."""

Still = Callable[[], bool]
"""Whether the payload being reduced, as it is now, still fails."""


def closest_to(sample: Any, failing: Any, still_fails: Callable[[Any], bool]) -> Any:
    """The failing payload with as many of its differences from the sample undone, and its
    remaining changed values as short or small, as can be while it still fails.

    still_fails gets the candidate payload; it must not keep or change it.
    """
    root = [copy.deepcopy(failing)]

    def still() -> bool:
        return still_fails(root[0])

    while _toward(root, 0, sample, still):
        pass
    return root[0]


def _toward(node: Any, key: Any, target: Any, still: Still) -> bool:
    """Bring node[key] closer to target; whether anything changed."""
    if not diff(target, node[key]):
        return False
    return _swap(node, key, copy.deepcopy(target), still) or _inside(node, key, target, still)


def _inside(node: Any, key: Any, target: Any, still: Still) -> bool:
    """Bring node[key] closer to target when taking target whole does not keep the failure."""
    value = node[key]
    if isinstance(value, dict) and isinstance(target, dict):
        return _toward_object(value, target, still)
    if isinstance(value, list) and isinstance(target, list):
        return _toward_list(value, target, still)
    return _simplify(node, key, still)


def _toward_object(value: dict[str, Any], target: dict[str, Any], still: Still) -> bool:
    """Undo differing keys in groups, halving (most failures need one key: about 2·log2(n)
    tries instead of n, which counts when each try runs into a time limit); then work
    inside the keys that must stay different."""
    names = [name for name in sorted(set(value) | set(target))
             if _differs(value, target, name)]
    changed = False
    size = len(names) // 2
    while size:
        for start in range(0, len(names), size):
            group = [name for name in names[start:start + size]
                     if _differs(value, target, name)]
            if group:
                changed |= _swap_all(value, {name: copy.deepcopy(target[name])
                                             if name in target else MISSING
                                             for name in group}, still)
        size //= 2
    for name in names:
        if name not in value or not _differs(value, target, name):
            continue
        if name in target:
            changed |= _inside(value, name, target[name], still)
        else:
            changed |= _simplify(value, name, still)
    return changed


def _differs(value: dict[str, Any], target: dict[str, Any], name: str) -> bool:
    if (name in value) != (name in target):
        return True
    return name in value and bool(diff(target[name], value[name]))


def _toward_list(value: list[Any], target: list[Any], still: Still) -> bool:
    changed = False
    for index in reversed(range(len(target), len(value))):
        item = value.pop(index)
        if still():
            changed = True
        else:
            value.insert(index, item)
    while len(value) < len(target):
        value.append(copy.deepcopy(target[len(value)]))
        if not still():
            value.pop()
            break
        changed = True
    for index in range(min(len(value), len(target))):
        changed |= _toward(value, index, target[index], still)
    return changed


def _simplify(node: Any, key: Any, still: Still) -> bool:
    """Shorten a string, or move a number toward zero, while the payload still fails."""
    changed = False
    while any(_swap(node, key, smaller, still) for smaller in _smaller(node[key])):
        changed = True
    return changed


def _smaller(value: Any) -> list[Any]:
    """Simpler values to try in place of value, simplest first; none for other kinds."""
    if isinstance(value, str) and value:
        half = len(value) // 2
        return ["", value[:half], value[half:]] if half else [""]
    if isinstance(value, bool):
        return []
    if isinstance(value, int) and value:
        halved = abs(value) // 2 * (1 if value > 0 else -1)
        return [0, halved] if halved else [0]
    if isinstance(value, float) and value:
        return [0.0]
    return []


def _swap(node: Any, key: Any, new: Any, still: Still) -> bool:
    """Put new at node[key] (MISSING removes the key); keep it if the payload still fails."""
    old = node.get(key, MISSING) if isinstance(node, dict) else node[key]
    _put(node, key, new)
    if still():
        return True
    _put(node, key, old)
    return False


def _swap_all(node: dict[str, Any], new: dict[str, Any], still: Still) -> bool:
    """_swap for several keys at once: all kept or none."""
    old = {key: node.get(key, MISSING) for key in new}
    for key, value in new.items():
        _put(node, key, value)
    if still():
        return True
    for key, value in old.items():
        _put(node, key, value)
    return False


def _put(node: Any, key: Any, value: Any) -> None:
    if value is MISSING:
        del node[key]
    else:
        node[key] = value
