"""What every benchmark's output must hold: its PASS/MISS lines, each a ratio in the report helper's form."""
import re

# PASS|MISS <what>: <ratio>× [faster than ]<reference> (target ≤|≥ X×; <ours> vs <reference's>)
RATIO = re.compile(r"(PASS|MISS) .+: (\d+\.\d\d|inf|nan)× .+ \(target [≤≥] \d+\.\d\d×; \S+ \S+ vs \S+ \S+\)")
# The one verdict that is not a time: rows a no-change regroup writes.
COUNT = re.compile(r"(PASS|MISS) .+: \d+ rows written \(target ≤ \d+\)")


def verdict_lines(out: str) -> list[str]:
    """The output's PASS/MISS lines, after checking that each has one of the helper's two forms."""
    lines = [line for line in out.splitlines() if line.startswith(("PASS", "MISS"))]
    for line in lines:
        assert RATIO.fullmatch(line) or COUNT.fullmatch(line), line
    return lines
