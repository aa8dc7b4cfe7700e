"""Crisis detection: reviewed phrases and lexicon (YAML beside this file) and the matcher that reads
them in children's own spelling. `load_detector().detect(text)` returns the most urgent kind or None.
"""

from content.safety.matcher import URGENCY, CrisisDetector, CrisisKind, CrisisMatch, load_detector

__all__ = ["URGENCY", "CrisisDetector", "CrisisKind", "CrisisMatch", "load_detector"]
