"""Which split each file of a version goes to: deterministic from the seed and the file, with
exact counts per split, and stable from one version to the next.

Each file has a position in [0, 1) from a hash of the seed and its unique name; the split whose
share of [0, 1) holds that position is its preferred split, unless the previous version put the
file somewhere (then that is). Counts are then made exact (largest remainder): a split over its
count gives up its files, new ones first and then from the top of its positions, to the splits
under theirs. A file that qualifies for the next version keeps its split unless the counts force
it to move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from metalake.errors import InvalidArgumentError
from metalake.lake.datasets.records import SPLITS

DEFAULT_SPLIT_INFO = {"train": 100}
MAX_SEED = 2**63 - 1


def check_split_info(split_info: Any) -> dict[str, int | float]:
    """`split_info` as percentages per split (train, validation, test) adding up to 100."""
    if split_info is None or split_info == {}:
        return dict(DEFAULT_SPLIT_INFO)
    if not isinstance(split_info, dict):
        raise InvalidArgumentError(
            f"split_info must be a dict like {{'train': 80, 'validation': 10, 'test': 10}}, "
            f"not {split_info!r}"
        )
    unknown = sorted(str(name) for name in split_info if name not in SPLITS)
    if unknown:
        raise InvalidArgumentError(
            f"split_info has unknown splits {unknown}; the splits are {', '.join(SPLITS)}"
        )
    for name, share in split_info.items():
        if type(share) not in (int, float) or not 0 <= share <= 100 or share != share:
            raise InvalidArgumentError(
                f"split_info[{name!r}] must be a percentage from 0 to 100, not {share!r}"
            )
    total = sum(split_info.values())
    if abs(total - 100) > 1e-9:
        raise InvalidArgumentError(f"split_info must add up to 100, not {total:g}: {split_info}")
    return {name: split_info[name] for name in SPLITS if name in split_info}


def check_seed(seed: Any) -> int:
    if type(seed) is not int or not 0 <= seed <= MAX_SEED:
        raise InvalidArgumentError(f"seed must be an integer from 0 to {MAX_SEED}, not {seed!r}")
    return seed


def split_counts(total: int, split_info: Mapping[str, int | float]) -> dict[str, int]:
    """How many of `total` files each split gets: the largest-remainder rounding of its share
    (ties to the split listed first)."""
    exact = {name: total * share / 100 for name, share in split_info.items()}
    counts = {name: int(value) for name, value in exact.items()}
    left = total - sum(counts.values())
    by_remainder = sorted(
        exact, key=lambda name: (-(exact[name] - counts[name]), SPLITS.index(name))
    )
    for name in by_remainder[:left]:
        counts[name] += 1
    return counts


def position(seed: int, unique_name: str) -> float:
    """The file's place in [0, 1), the same for the same seed and name in every version."""
    digest = hashlib.blake2b(f"{seed}\x00{unique_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_splits(
    names: Sequence[str],
    split_info: Mapping[str, int | float],
    seed: int,
    previous: Mapping[str, str] | None = None,
) -> list[str]:
    """The split of each of `names` (unique names), in order; `previous` maps the names of the
    previous version's files to their splits there."""
    previous = previous or {}
    wanted = split_counts(len(names), split_info)
    places = [position(seed, name) for name in names]
    bounds: list[tuple[float, str]] = []
    reached = 0.0
    for name in wanted:
        reached += split_info[name] / 100
        bounds.append((reached, name))
    chosen: list[str] = []
    for name, place in zip(names, places, strict=True):
        kept = previous.get(name)
        if kept in wanted and wanted[kept] > 0:
            chosen.append(kept)
        else:
            chosen.append(next((s for bound, s in bounds if place < bound), bounds[-1][1]))
    members: dict[str, list[int]] = {split: [] for split in wanted}
    for index, split in enumerate(chosen):
        members.setdefault(split, []).append(index)
    freed: list[int] = []
    for split, indexes in members.items():
        extra = len(indexes) - wanted.get(split, 0)
        if extra > 0:
            # new files leave first, then the highest places: the fewest files move
            indexes.sort(key=lambda i: (names[i] not in previous, places[i]))
            freed.extend(indexes[-extra:])
    freed.sort(key=lambda i: places[i])
    for split in wanted:
        room = wanted[split] - len(members[split])
        while room > 0:
            chosen[freed.pop()] = split
            room -= 1
    return chosen
