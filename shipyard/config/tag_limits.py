"""What a stack's `tags:` may hold: AWS's tag rules, and the keys shipyard writes itself.

AWS's rules (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html, the same
for ELBv2, EC2, IAM, CloudWatch and Logs): keys 1..128 characters, values up to 256, "letters,
numbers, and spaces representable in UTF-8, and the following characters: + - = . _ : / @",
no `aws:` prefix, 50 tags per resource. The published pattern is
`[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]`
(https://docs.aws.amazon.com/efs/latest/ug/API_Tag.html): Unicode letters, separators and
numbers, which `unicodedata.category` names L*, Z* and N*.

shipyard's own: the program sets `Name` and `shipyard:service`, `shipyard:color`,
`shipyard:version`, `shipyard:tier` on the resources it creates (components/tags.py,
shipyard.revision), over whatever `tags:` says, so the `shipyard:` prefix and `Name` are
reserved. The template's `shipyard:project` and `shipyard:environment` are the two exceptions:
they are config, and the IAM policies and drift detection select an environment's resources
by `shipyard:environment`, so it must name the environment.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

KEY_LENGTH = (1, 128)
VALUE_LENGTH = 256
PER_RESOURCE = 50
# At most this many program tags on one resource (a task definition: Name, shipyard:service,
# shipyard:color, shipyard:version); one spare so a new program tag does not break stacks.
PROGRAM_TAGS = 5
AWS_PREFIX = "aws:"
SHIPYARD_PREFIX = "shipyard:"
PROGRAM_KEYS = frozenset({"Name"})
CONFIG_KEYS = frozenset({"shipyard:project", "shipyard:environment"})
ENVIRONMENT_KEY = "shipyard:environment"
PUNCTUATION = frozenset("+-=._:/@")
ALLOWED = "letters, digits, spaces and + - = . _ : / @"


def _refused_character(text: str) -> str | None:
    for char in text:
        if char in PUNCTUATION or unicodedata.category(char)[0] in "LNZ":
            continue
        return char
    return None


def tag_problem(key: str, value: str) -> str | None:
    """Why AWS would refuse this tag, or shipyard would overwrite it; None when it is fine."""
    if key.lower().startswith(AWS_PREFIX) or value.lower().startswith(AWS_PREFIX):
        return f"{key!r}: the prefix 'aws:' is reserved for AWS's own tags; rename it"
    if key in PROGRAM_KEYS or (key.startswith(SHIPYARD_PREFIX) and key not in CONFIG_KEYS):
        return (
            f"{key!r}: shipyard sets Name and the shipyard: keys itself (of those, only "
            "shipyard:project and shipyard:environment are set in stacks); rename it"
        )
    low, high = KEY_LENGTH
    if not low <= len(key) <= high:
        return f"{key!r}: must be {low}..{high} characters, the tag key length"
    if len(value) > VALUE_LENGTH:
        return f"{key!r}: the value must be at most {VALUE_LENGTH} characters (got {len(value)})"
    for what, text in (("key", key), ("value", value)):
        char = _refused_character(text)
        if char is not None:
            return f"{key!r}: the {what} holds {char!r}, which AWS refuses in tags; use {ALLOWED}"
    return None


def tags_problem(tags: Mapping[str, str], environment: str) -> str | None:
    """What is wrong with a stack's merged `tags:` (template and overlay), or None."""
    room = PER_RESOURCE - PROGRAM_TAGS
    if len(tags) > room:
        return (
            f"{len(tags)} tags (the template's and this file's, merged), but AWS allows "
            f"{PER_RESOURCE} per resource and shipyard adds up to {PROGRAM_TAGS}: keep at "
            f"most {room}"
        )
    for key, value in tags.items():
        problem = tag_problem(key, value)
        if problem:
            return problem
    named = tags.get(ENVIRONMENT_KEY, environment)
    if named != environment:
        return (
            f"{ENVIRONMENT_KEY!r} is {named!r} but this is {environment!r}: the IAM policies "
            "and drift detection find an environment's resources by it; remove it or fix it"
        )
    return None
