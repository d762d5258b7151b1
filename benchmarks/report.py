"""The one way every benchmark prints its results: a table of absolute numbers, then verdict lines.

A verdict is always a ratio between two things measured in the same run — our
time against a floor (the least the work could cost on this machine), a
baseline (the design it replaced) or a peer (the same request with nothing
else going on) — because on a shared two-core machine absolute times move
with the load while their ratios hold. The absolute values are printed beside
the ratio, as information only:

    PASS cold preview (sqlite): 1.12× the timestamp read floor (target ≤ 1.50×; 509 ms vs 454 ms)
    MISS cold small, at 600x400: 2.35× faster than a full decode (target ≥ 3.00×; 2.5 ms vs 6.0 ms)

Nothing else in `benchmarks/` prints PASS or MISS, so the verdicts read the
same everywhere and `tests/bench/test_report.py` holds their logic.
"""
import re
from dataclasses import dataclass, field


def seconds(value: float) -> str:
    """A duration given in seconds, in the unit that reads best."""
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.001:
        return f"{value * 1000:.0f} ms" if value >= 0.1 else f"{value * 1000:.1f} ms"
    return f"{value * 1_000_000:.0f} µs"


def milliseconds(value: float) -> str:
    return seconds(value / 1000)


def megabytes(value: float) -> str:
    return f"{value:.0f} MB"


_SPEC = re.compile(r"([<>^]?)(\d*)(.*)")


class Table:
    """Columns of fixed width, so each row can be printed as soon as it is measured (one size of the
    regroup benchmark takes minutes; a table that waited for its widest cell would print nothing until
    the end). Each column is `(heading, spec)`: a format spec such as ".2f" or "<24", with an optional
    alignment (numbers right, by default) and minimum width; the heading's length is the least width.
    A None cell prints "-", a string cell prints as it is (e.g. "skipped").
    """

    def __init__(self, *columns: tuple[str, str]):
        self.columns = []
        for heading, spec in columns:
            align, width, rest = _SPEC.fullmatch(spec).groups()
            self.columns.append((heading, align or ">", max(len(heading), int(width or 0)), rest))

    @property
    def header(self) -> str:
        return self._line([heading for heading, *_ in self.columns])

    def row(self, *values) -> str:
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} cells for {len(self.columns)} columns")
        cells = []
        for value, (_, _, _, rest) in zip(values, self.columns):
            if value is None:
                cells.append("-")
            elif isinstance(value, str) or not rest:
                cells.append(str(value))
            else:
                cells.append(format(value, rest))
        return self._line(cells)

    def _line(self, cells: list[str]) -> str:
        return "  ".join(f"{cell:{align}{width}}" for cell, (_, align, width, _) in zip(cells, self.columns)).rstrip()


@dataclass
class Verdicts:
    """Collects the PASS/MISS lines of one run; `print_all` prints them, `missed` counts the misses.

    A MISS does not change a benchmark's exit status: `make bench` runs every benchmark, and one MISS on a
    busy machine is a reason to look, not to stop the others.
    """
    lines: list[str] = field(default_factory=list)
    missed: int = 0

    def _add(self, ok: bool, text: str) -> str:
        line = f"{'PASS' if ok else 'MISS'} {text}"
        self.lines.append(line)
        self.missed += 0 if ok else 1
        return line

    def at_most(self, what: str, ours: float, reference: float, name: str, target: float, show=seconds) -> str:
        """`ours` may cost at most `target` times `reference` (a floor or a peer). A reference of zero
        (nothing measured) never passes: a ratio to nothing proves nothing."""
        ratio = ours / reference if reference else float("inf")
        return self._add(
            ratio <= target,
            f"{what}: {ratio:.2f}× {name} (target ≤ {target:.2f}×; {show(ours)} vs {show(reference)})",
        )

    def at_least(self, what: str, ours: float, reference: float, name: str, target: float, show=seconds) -> str:
        """`reference` (a baseline) must cost at least `target` times `ours`: a speed-up. Ours at zero
        (nothing measured) never passes, as in `at_most`."""
        ratio = reference / ours if ours else float("nan")
        return self._add(
            ratio >= target,
            f"{what}: {ratio:.2f}× faster than {name} (target ≥ {target:.2f}×; {show(ours)} vs {show(reference)})",
        )

    def count(self, what: str, value: int, limit: int, unit: str) -> str:
        """A count that must stay at or under `limit` (rows a no-change regroup writes): not a time, so
        load cannot move it and there is nothing to divide it by."""
        return self._add(value <= limit, f"{what}: {value} {unit} (target ≤ {limit})")

    def print_all(self) -> None:
        for line in self.lines:
            print(line, flush=True)
