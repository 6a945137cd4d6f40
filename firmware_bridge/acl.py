"""A mosquitto ACL file for a province broker (``communectl fleet acl``; docs/mqtt.md, "Who may
write what"). Every topic comes from ``firmware_bridge.topics``.

A gateway's broker user is its site id: it may write only the topics it publishes under its own
root and read only what is addressed to it, so a stolen gateway credential cannot publish
another commune's state, acknowledge for it, or command anyone. The province's user
(``province``) reads everything under the prefix and writes the commands (announcements and
circuit commands) to any gateway.

Each site gets a ``user`` block of its own rather than one ``pattern`` block with ``%u``:
mosquitto applies pattern lines to every user, the province's and any other name in the
password file included, while a user block gives its rights to exactly the sites listed.
"""

from __future__ import annotations

import re

from firmware_bridge import topics

PROVINCE_USER = "province"
_SITE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # the config's [site] id


def check_sites(sites: list[str]) -> list[str]:
    """One message per site id that cannot be a broker user of ours, or none."""
    problems = []
    seen: set[str] = set()
    for site in sites:
        if not _SITE.match(site):
            problems.append(f"{site!r}: a site id is lower case letters, digits, - and _")
        elif site == PROVINCE_USER:
            problems.append(f"{site!r}: is the province's own user name")
        elif site in seen:
            problems.append(f"{site!r}: listed twice")
        seen.add(site)
    if not sites:
        problems.append("no site given")
    return problems


def acl_file(prefix: str, sites: list[str]) -> str:
    """The text of a mosquitto ``acl_file`` for ``sites`` (check them with ``check_sites``)."""
    problems = check_sites(sites)
    if problems:
        raise ValueError("; ".join(problems))
    every = topics.root(prefix, topics.ANY)
    lines = [
        "# mosquitto acl_file made by `communectl fleet acl` (docs/mqtt.md): a gateway's user",
        "# is its site id and writes only its own topics; the province reads everything and",
        "# sends the commands. Anything not allowed here is refused (a publish is dropped).",
        "",
        f"user {PROVINCE_USER}",
        f"topic read {prefix}/#",
        *(f"topic write {topic}" for topic in topics.province_commands(every)),
    ]
    for site in sites:
        root = topics.root(prefix, site)
        lines += ["", f"user {site}",
                  *(f"topic write {topic}" for topic in topics.gateway_writes(root)),
                  *(f"topic read {topic}" for topic in topics.gateway_reads(root))]
    return "\n".join(lines) + "\n"
