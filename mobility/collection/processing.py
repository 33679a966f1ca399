"""Submission → domain rows through the bound target's importer. (Being written: helper D.)"""


def submission_process_by_id(submission_id: int) -> None:
    return None
