"""Human-typable random codes (invites, guardian links, report references)."""

from __future__ import annotations

import hashlib
import re
import secrets

# No look-alikes: no I, O, 0 or 1 (SPEC §4).
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def random_code(groups: int = 2, size: int = 4) -> str:
    """Return a code like `K7QM-3XPA` from a cryptographic random source."""
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def normalize_code(text: str) -> str:
    """Upper-case a typed code and drop spaces and dashes, keeping only code characters."""
    return re.sub(r"[\s\-_]", "", text.strip().upper())


def code_hash(code: str) -> str:
    """Hash a normalised code for storage, so a copied database cannot redeem codes."""
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()
