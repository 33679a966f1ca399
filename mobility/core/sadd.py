"""Sex-and-age disaggregated data (SADD): one structure for every module, with configurable age bands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings

SADD_PARTS_DISAGREE = "the sex and age parts add up to {parts}, but the total is {total}"
SADD_PARTS_EXCEED = "the known sex and age parts add up to {parts}, more than the total {total}"
SADD_NEGATIVE = "a sex and age part is negative"
BANDS_GAP = "age bands must follow each other without gaps or overlaps: {bands}"

_BAND = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|(\+))\s*$")


@dataclass(frozen=True)
class AgeBands:
    """Ordered, contiguous age bands from 0, the last one open-ended (e.g. 60+)."""

    bands: tuple[tuple[int, int | None], ...]

    @classmethod
    def default(cls) -> AgeBands:
        return cls(tuple((lo, hi) for lo, hi in settings.MOBILITY["AGE_BANDS"]))

    @classmethod
    def parse(cls, labels: list[str]) -> AgeBands:
        """From labels like ["0-4", "5-11", "12-17", "18-59", "60+"]."""
        bands = []
        for label in labels:
            m = _BAND.match(label)
            if not m:
                raise ValueError(f"not an age band: {label!r} (write 0-4 or 60+)")
            bands.append((int(m.group(1)), None if m.group(3) else int(m.group(2))))
        result = cls(tuple(bands))
        result.check()
        return result

    def check(self) -> None:
        expected = 0
        for i, (lo, hi) in enumerate(self.bands):
            last = i == len(self.bands) - 1
            if lo != expected or (hi is None) != last or (hi is not None and hi < lo):
                raise ValueError(BANDS_GAP.format(bands=", ".join(self.labels())))
            expected = (hi or 0) + 1

    def labels(self) -> list[str]:
        return [f"{lo}+" if hi is None else f"{lo}-{hi}" for lo, hi in self.bands]

    def band_of(self, age: int) -> str:
        for (lo, hi), label in zip(self.bands, self.labels(), strict=True):
            if age >= lo and (hi is None or age <= hi):
                return label
        raise ValueError(f"age {age} is in no band")


@dataclass
class Sadd:
    """Counts of people by sex and age band, with the total they belong to. None = unknown."""

    total: int
    bands: AgeBands
    female: list[int | None] = field(default_factory=list)
    male: list[int | None] = field(default_factory=list)

    @classmethod
    def build(cls, *, total: int, bands: AgeBands, female=None, male=None) -> Sadd:
        n = len(bands.bands)
        return cls(total=total, bands=bands, female=list(female or [None] * n), male=list(male or [None] * n))

    @property
    def parts(self) -> list[int | None]:
        return [*self.female, *self.male]

    @property
    def is_complete(self) -> bool:
        return all(p is not None for p in self.parts)

    @property
    def female_total(self) -> int:
        return sum(p or 0 for p in self.female)

    @property
    def male_total(self) -> int:
        return sum(p or 0 for p in self.male)

    def problems(self) -> list[str]:
        """What is wrong, in words an officer understands (empty when consistent)."""
        known = [p for p in self.parts if p is not None]
        if any(p < 0 for p in known):
            return [SADD_NEGATIVE]
        parts = sum(known)
        if self.is_complete and parts != self.total:
            return [SADD_PARTS_DISAGREE.format(parts=parts, total=self.total)]
        if not self.is_complete and parts > self.total:
            return [SADD_PARTS_EXCEED.format(parts=parts, total=self.total)]
        return []

    def as_dict(self) -> dict:
        labels = self.bands.labels()
        out = {"total": self.total}
        out.update({f"female_{label}": v for label, v in zip(labels, self.female, strict=True)})
        out.update({f"male_{label}": v for label, v in zip(labels, self.male, strict=True)})
        return out
