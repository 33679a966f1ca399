"""Quality flags computed on arrival. (Being written: helper E.)"""


def flags_on_arrival(submission) -> None:
    return None
