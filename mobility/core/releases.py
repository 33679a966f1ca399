"""Released schema states: the last migration of each Mobility app at each release.

There are no git tags yet, so these names label points of the development history whose database
schema a deployment may be running (the package version in pyproject.toml is still 0.1.0):

- "0.7": the schema of commit 93a4cba (registration foundation), before flows kept operation-wide
  breakdown totals (flows 0002, which fills them from the stored breakdowns), before assistance
  publication and the encrypted override reason (registration 0002 and 0003, which encrypts the
  reasons already stored) and before forms could feed registration (collection 0003).
- "0.8": the schema of commit 675ed7c, the first with backup and restore.

Other apps (Django's auth, admin, contenttypes, sessions; third-party apps) are not listed: a release
is taken to have applied their migrations in full. When a release is cut, add its state here (and to
docs/deployment.md, "Upgrading"); tests/core/test_upgrade.py migrates data from the previous one.
"""

from __future__ import annotations

RELEASES: dict[str, dict[str, str]] = {
    "0.7": {
        "core": "0002_round_number_from_zero",
        "gazetteer": "0001_initial",
        "tracking": "0002_breakdown_part_by_provider_reason",
        "publishing": "0002_dtm_name_indexes",
        "collection": "0002_alter_binding_target",
        "flows": "0001_initial",
        "restrictions": "0001_initial",
        "registration": "0001_initial",
    },
    "0.8": {
        "core": "0002_round_number_from_zero",
        "gazetteer": "0001_initial",
        "tracking": "0002_breakdown_part_by_provider_reason",
        "publishing": "0002_dtm_name_indexes",
        "collection": "0003_registration_target",
        "flows": "0002_summaries_incremental_totals",
        "restrictions": "0001_initial",
        "registration": "0003_protection_override_reason",
    },
}
CURRENT = "0.8"
PREVIOUS = "0.7"


def release_targets(name: str, graph) -> list[tuple[str, str]]:
    """Migration targets that put a database at release ``name``: its listed apps at their listed
    migration, every other app of ``graph`` (Django's own) at its latest."""
    state = RELEASES[name]
    others = [(app, migration) for app, migration in graph.leaf_nodes() if app not in state]
    return sorted([*state.items(), *others])


def release_of(applied: dict[str, list[str]], graph) -> str:
    """The release whose state these applied migrations are ("0.8"); "0.8+" when they go past the
    newest release it reached, "" when they do not reach any release."""
    done = {(app, name) for app, names in applied.items() for name in names}
    reached = ""
    for name, state in RELEASES.items():
        needed = set()
        for target in state.items():
            if target in graph.nodes:
                needed |= set(graph.forwards_plan(target))
            else:
                needed.add(target)
        if needed <= done:
            reached = name
            exact = done & _mobility_nodes(graph) == needed & _mobility_nodes(graph)
    if not reached:
        return ""
    return reached if exact else f"{reached}+"


def _mobility_nodes(graph) -> set[tuple[str, str]]:
    apps = {app for state in RELEASES.values() for app in state}
    return {node for node in graph.nodes if node[0] in apps}
