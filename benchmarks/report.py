"""The one way every benchmark prints its results: a table of absolute numbers, then verdict lines.

A verdict is always a ratio between two things measured in the same run — our
time against a floor (the least the work could cost on this machine), a
baseline (the design it replaced) or a peer (the same request with nothing
else going on) — because on a shared two-core machine absolute times move
with the load while their ratios hold. The absolute values are printed beside
the ratio, as information only.

    PASS first regroup (sqlite, 1000000): 1.16× the timestamp read (target ≤ 1.30×; 0.33 s vs 0.29 s)
"""
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


def _numeric(cell: str) -> bool:
    try:
        float(cell.rstrip("×x%"))
    except ValueError:
        return cell in ("-", "")
    return True


def table(headers: list[str], rows: list[list]) -> str:
    """Columns as wide as their widest cell: numbers right-aligned, words left-aligned."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_numeric(row[i]) for row in cells[1:]) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in cells
    )


@dataclass
class Verdicts:
    """Collects PASS/MISS lines; `print_all` prints them and `failed` says whether any missed."""
    lines: list[str] = field(default_factory=list)
    missed: int = 0

    def _add(self, ok: bool, text: str) -> str:
        line = f"{'PASS' if ok else 'MISS'} {text}"
        self.lines.append(line)
        self.missed += 0 if ok else 1
        return line

    def at_most(self, what: str, ours: float, reference: float, name: str, target: float, show=seconds) -> str:
        """`ours` may cost at most `target` times `reference` (a floor or a peer)."""
        ratio = ours / reference if reference else float("inf")
        return self._add(
            ratio <= target,
            f"{what}: {ratio:.2f}× {name} (target ≤ {target:.2f}×; {show(ours)} vs {show(reference)})",
        )

    def at_least(self, what: str, ours: float, reference: float, name: str, target: float, show=seconds) -> str:
        """`reference` (a baseline) must cost at least `target` times `ours`: a speed-up."""
        ratio = reference / ours if ours else float("inf")
        return self._add(
            ratio >= target,
            f"{what}: {ratio:.2f}× faster than {name} (target ≥ {target:.2f}×; {show(ours)} vs {show(reference)})",
        )

    def count(self, what: str, value: int, limit: int, unit: str) -> str:
        """A count that must stay at or under `limit` (rows written, requests made): not a time, so no ratio."""
        return self._add(value <= limit, f"{what}: {value} {unit} (target ≤ {limit})")

    def print_all(self) -> None:
        for line in self.lines:
            print(line)

    @property
    def failed(self) -> bool:
        return self.missed > 0
