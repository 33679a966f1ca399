"""Importer ``tracking.profile``: a DTM workbook read through a saved source profile.

job.profile = {"source_profile": NAME, "operation": ID, "round": NUMBER}
"""

from __future__ import annotations

from mobility.core.imports import Counts, ReadResult, job_path, register

from ..profiles import Profile, context_for_job, profile_get, profile_read
from ..services import assessments_write


class ProfileImporter:
    kind = "tracking.profile"
    label = "Tracking: DTM workbook through a source profile"

    def read(self, *, job, progress) -> ReadResult:
        stored = profile_get(str((job.profile or {}).get("source_profile", "")))
        profile = Profile.from_mapping(stored.mapping, name=stored.name)
        context = context_for_job(job)
        context.country_iso3 = (
            profile.constants.get("country") or stored.country_iso3 or context.operation.country_iso3
        ).upper()
        return profile_read(path=job_path(job), profile=profile, context=context, progress=progress)

    def write(self, *, job, data, progress) -> Counts:
        return assessments_write(records=data, job=job, progress=progress)


register(ProfileImporter())
